//! The raw material of Vietnamese customer data: names with their real-world frequencies,
//! provinces weighted by population, shops and products of an F&B chain and a fashion retailer.

/// Family names (họ) with their approximate share of the population, in per mille.
pub const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 30),
    ("Huỳnh", 21),
    ("Phan", 45),
    ("Vũ", 20),
    ("Võ", 19),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 6),
    ("Trịnh", 5),
    ("Đoàn", 4),
    ("Lâm", 4),
];

pub const MIDDLE_NAMES_FEMALE: &[&str] = &[
    "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Minh", "Bảo", "Khánh", "Phương", "Hoài",
    "Mỹ",
];
pub const MIDDLE_NAMES_MALE: &[&str] = &[
    "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Công", "Xuân", "Gia", "Hoàng", "Trọng",
    "Quốc",
];

pub const GIVEN_NAMES_FEMALE: &[&str] = &[
    "An", "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh",
    "Mai", "My", "Nga", "Ngọc", "Nhung", "Phương", "Quỳnh", "Thảo", "Thu", "Trang", "Tuyết",
    "Uyên", "Vy", "Yến", "Hiền", "Loan", "Thủy", "Trâm",
];
pub const GIVEN_NAMES_MALE: &[&str] = &[
    "Anh", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khang", "Khoa",
    "Long", "Minh", "Nam", "Phong", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thành", "Trung",
    "Tuấn", "Việt", "Vinh", "Kiên", "Lộc", "Nghĩa", "Tùng",
];

/// Where customers live (2025 provinces and, for some, the old names people still write), with
/// weights roughly following the urban population that shops at chains.
pub const PROVINCES: &[(&str, &[&str], u32)] = &[
    (
        "Hồ Chí Minh",
        &[
            "Quận 1",
            "Quận 3",
            "Quận 7",
            "Bình Thạnh",
            "Phú Nhuận",
            "Thủ Đức",
            "Gò Vấp",
            "Tân Bình",
        ],
        250,
    ),
    (
        "Hà Nội",
        &[
            "Cầu Giấy",
            "Đống Đa",
            "Hoàn Kiếm",
            "Ba Đình",
            "Hai Bà Trưng",
            "Thanh Xuân",
            "Long Biên",
            "Hà Đông",
        ],
        200,
    ),
    (
        "Đà Nẵng",
        &["Hải Châu", "Thanh Khê", "Sơn Trà", "Ngũ Hành Sơn"],
        60,
    ),
    ("Hải Phòng", &["Lê Chân", "Ngô Quyền", "Hồng Bàng"], 45),
    ("Cần Thơ", &["Ninh Kiều", "Cái Răng", "Bình Thủy"], 40),
    ("Bình Dương", &["Thủ Dầu Một", "Dĩ An", "Thuận An"], 45),
    ("Đồng Nai", &["Biên Hòa", "Long Khánh"], 40),
    ("Khánh Hòa", &["Nha Trang", "Cam Ranh"], 25),
    ("Quảng Ninh", &["Hạ Long", "Cẩm Phả"], 25),
    ("Huế", &["Phú Hội", "Thuận Hóa"], 20),
    ("Nghệ An", &["Vinh"], 20),
    ("Thanh Hóa", &["Thanh Hóa"], 20),
    ("Bắc Ninh", &["Từ Sơn", "Bắc Ninh"], 20),
    ("Lâm Đồng", &["Đà Lạt", "Bảo Lộc"], 15),
    ("Bà Rịa - Vũng Tàu", &["Vũng Tàu", "Bà Rịa"], 15),
];

pub const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("gmail.com", 75),
    ("yahoo.com", 10),
    ("outlook.com", 8),
    ("icloud.com", 7),
];

pub const TAGS: &[(&str, u32)] = &[
    ("sinh viên", 80),
    ("nhân viên văn phòng", 120),
    ("khách quen", 100),
    ("vip", 25),
    ("khách sỉ", 10),
    ("online", 90),
];

/// A brand with its stores (code, name, province, district) and what it sells.
#[derive(Debug, PartialEq)]
pub struct BrandData {
    pub code: &'static str,
    pub name: &'static str,
    pub stores: &'static [(&'static str, &'static str, &'static str, &'static str)],
    pub products: &'static [Product],
    /// Lines per order: F&B orders are a drink or two; fashion orders are one or two items.
    pub max_lines: usize,
}

#[derive(Debug, PartialEq)]
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub price: i64,
}

pub const BRANDS: &[BrandData] = &[
    BrandData {
        code: "cafe",
        name: "Cà Phê Sáng",
        stores: &[
            ("HN01", "Cà Phê Sáng Cầu Giấy", "Hà Nội", "Cầu Giấy"),
            ("HN02", "Cà Phê Sáng Hoàn Kiếm", "Hà Nội", "Hoàn Kiếm"),
            ("HCM01", "Cà Phê Sáng Quận 1", "Hồ Chí Minh", "Quận 1"),
            ("HCM02", "Cà Phê Sáng Phú Nhuận", "Hồ Chí Minh", "Phú Nhuận"),
            ("DN01", "Cà Phê Sáng Hải Châu", "Đà Nẵng", "Hải Châu"),
        ],
        products: &[
            Product {
                sku: "CF-001",
                name: "Cà phê sữa đá",
                category: "cà phê",
                price: 29_000,
            },
            Product {
                sku: "CF-002",
                name: "Cà phê đen đá",
                category: "cà phê",
                price: 25_000,
            },
            Product {
                sku: "CF-003",
                name: "Bạc xỉu",
                category: "cà phê",
                price: 35_000,
            },
            Product {
                sku: "CF-004",
                name: "Cà phê muối",
                category: "cà phê",
                price: 39_000,
            },
            Product {
                sku: "TE-001",
                name: "Trà đào cam sả",
                category: "trà",
                price: 45_000,
            },
            Product {
                sku: "TE-002",
                name: "Trà sữa trân châu",
                category: "trà",
                price: 42_000,
            },
            Product {
                sku: "TE-003",
                name: "Trà vải",
                category: "trà",
                price: 45_000,
            },
            Product {
                sku: "BK-001",
                name: "Bánh mì que",
                category: "bánh",
                price: 19_000,
            },
            Product {
                sku: "BK-002",
                name: "Croissant bơ",
                category: "bánh",
                price: 35_000,
            },
            Product {
                sku: "BK-003",
                name: "Bánh bông lan trứng muối",
                category: "bánh",
                price: 49_000,
            },
        ],
        max_lines: 4,
    },
    BrandData {
        code: "shop",
        name: "Thời Trang Mộc",
        stores: &[
            ("TT-HN01", "Mộc Tràng Tiền", "Hà Nội", "Hoàn Kiếm"),
            ("TT-HCM01", "Mộc Nguyễn Trãi", "Hồ Chí Minh", "Quận 1"),
            ("TT-WEB", "Mộc Online", "Hồ Chí Minh", "Quận 3"),
        ],
        products: &[
            Product {
                sku: "AO-001",
                name: "Áo thun cotton",
                category: "áo",
                price: 199_000,
            },
            Product {
                sku: "AO-002",
                name: "Áo sơ mi linen",
                category: "áo",
                price: 459_000,
            },
            Product {
                sku: "QU-001",
                name: "Quần jean ống suông",
                category: "quần",
                price: 499_000,
            },
            Product {
                sku: "VA-001",
                name: "Váy hoa nhí",
                category: "váy",
                price: 559_000,
            },
            Product {
                sku: "PK-001",
                name: "Túi tote vải",
                category: "phụ kiện",
                price: 249_000,
            },
            Product {
                sku: "PK-002",
                name: "Mũ bucket",
                category: "phụ kiện",
                price: 159_000,
            },
        ],
        max_lines: 2,
    },
];
