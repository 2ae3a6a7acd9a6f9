//! Vietnam's provinces after the merger of 1 July 2025 (63 → 34, Resolution 202/2025/QH15).
//!
//! Members, stores and old POS systems still write the old names ("Bình Dương", "Quận 1,
//! TP.HCM"). The address is kept exactly as given; next to it we keep the 2025 province code
//! (GSO numbering), so reports group the old and the new names of one place together.

use crate::text::fold;

/// A province-level unit as of 2025: GSO code and official short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Province {
    pub code: &'static str,
    pub name: &'static str,
}

pub const PROVINCES: &[Province] = &[
    Province {
        code: "01",
        name: "Hà Nội",
    },
    Province {
        code: "04",
        name: "Cao Bằng",
    },
    Province {
        code: "08",
        name: "Tuyên Quang",
    },
    Province {
        code: "11",
        name: "Điện Biên",
    },
    Province {
        code: "12",
        name: "Lai Châu",
    },
    Province {
        code: "14",
        name: "Sơn La",
    },
    Province {
        code: "15",
        name: "Lào Cai",
    },
    Province {
        code: "19",
        name: "Thái Nguyên",
    },
    Province {
        code: "20",
        name: "Lạng Sơn",
    },
    Province {
        code: "22",
        name: "Quảng Ninh",
    },
    Province {
        code: "24",
        name: "Bắc Ninh",
    },
    Province {
        code: "25",
        name: "Phú Thọ",
    },
    Province {
        code: "31",
        name: "Hải Phòng",
    },
    Province {
        code: "33",
        name: "Hưng Yên",
    },
    Province {
        code: "37",
        name: "Ninh Bình",
    },
    Province {
        code: "38",
        name: "Thanh Hóa",
    },
    Province {
        code: "40",
        name: "Nghệ An",
    },
    Province {
        code: "42",
        name: "Hà Tĩnh",
    },
    Province {
        code: "44",
        name: "Quảng Trị",
    },
    Province {
        code: "46",
        name: "Huế",
    },
    Province {
        code: "48",
        name: "Đà Nẵng",
    },
    Province {
        code: "51",
        name: "Quảng Ngãi",
    },
    Province {
        code: "52",
        name: "Gia Lai",
    },
    Province {
        code: "56",
        name: "Khánh Hòa",
    },
    Province {
        code: "66",
        name: "Đắk Lắk",
    },
    Province {
        code: "68",
        name: "Lâm Đồng",
    },
    Province {
        code: "75",
        name: "Đồng Nai",
    },
    Province {
        code: "79",
        name: "Hồ Chí Minh",
    },
    Province {
        code: "80",
        name: "Tây Ninh",
    },
    Province {
        code: "82",
        name: "Đồng Tháp",
    },
    Province {
        code: "86",
        name: "Vĩnh Long",
    },
    Province {
        code: "91",
        name: "An Giang",
    },
    Province {
        code: "92",
        name: "Cần Thơ",
    },
    Province {
        code: "96",
        name: "Cà Mau",
    },
];

/// The 63 pre-2025 provinces (and common spellings) with the 2025 unit each became part of.
/// Keys are folded (see [`fold`]) and without a "tỉnh"/"thành phố" prefix.
const OLD_NAMES: &[(&str, &str)] = &[
    ("ha noi", "01"),
    ("ha giang", "08"),
    ("cao bang", "04"),
    ("bac kan", "19"),
    ("bac can", "19"),
    ("tuyen quang", "08"),
    ("lao cai", "15"),
    ("dien bien", "11"),
    ("lai chau", "12"),
    ("son la", "14"),
    ("yen bai", "15"),
    ("hoa binh", "25"),
    ("thai nguyen", "19"),
    ("lang son", "20"),
    ("quang ninh", "22"),
    ("bac giang", "24"),
    ("phu tho", "25"),
    ("vinh phuc", "25"),
    ("bac ninh", "24"),
    ("hai duong", "31"),
    ("hai phong", "31"),
    ("hung yen", "33"),
    ("thai binh", "33"),
    ("ha nam", "37"),
    ("nam dinh", "37"),
    ("ninh binh", "37"),
    ("thanh hoa", "38"),
    ("nghe an", "40"),
    ("ha tinh", "42"),
    ("quang binh", "44"),
    ("quang tri", "44"),
    ("thua thien hue", "46"),
    ("hue", "46"),
    ("da nang", "48"),
    ("quang nam", "48"),
    ("quang ngai", "51"),
    ("kon tum", "51"),
    ("binh dinh", "52"),
    ("gia lai", "52"),
    ("phu yen", "66"),
    ("dak lak", "66"),
    ("dac lac", "66"),
    ("khanh hoa", "56"),
    ("ninh thuan", "56"),
    ("binh thuan", "68"),
    ("dak nong", "68"),
    ("lam dong", "68"),
    ("binh phuoc", "75"),
    ("dong nai", "75"),
    ("tay ninh", "80"),
    ("long an", "80"),
    ("binh duong", "79"),
    ("ba ria vung tau", "79"),
    ("brvt", "79"),
    ("ho chi minh", "79"),
    ("hcm", "79"),
    ("tp hcm", "79"),
    ("tphcm", "79"),
    ("sai gon", "79"),
    ("saigon", "79"),
    ("tien giang", "82"),
    ("dong thap", "82"),
    ("ben tre", "86"),
    ("tra vinh", "86"),
    ("vinh long", "86"),
    ("an giang", "91"),
    ("kien giang", "91"),
    ("can tho", "92"),
    ("hau giang", "92"),
    ("soc trang", "92"),
    ("bac lieu", "96"),
    ("ca mau", "96"),
    ("hn", "01"),
];

/// The 2025 province a written province name belongs to, old or new, with or without tone marks
/// or a "Tỉnh"/"TP." prefix. `None` when the name is not recognised (it is still stored as given).
pub fn province_code(name: &str) -> Option<&'static str> {
    let folded = fold(name).replace(['.', ','], " ");
    let mut key = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    for prefix in ["thanh pho ", "tinh ", "tp "] {
        if let Some(rest) = key.strip_prefix(prefix) {
            key = rest.to_string();
        }
    }
    if key.is_empty() {
        return None;
    }
    let key = key.replace(" - ", " ").replace('-', " ");
    OLD_NAMES
        .iter()
        .find(|(old, _)| *old == key)
        .map(|(_, code)| *code)
}

/// The 2025 province with this GSO code.
pub fn province(code: &str) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_current_province_name_maps_to_its_own_code() {
        for p in PROVINCES {
            assert_eq!(province_code(p.name), Some(p.code), "{}", p.name);
        }
        assert_eq!(PROVINCES.len(), 34);
    }

    #[test]
    fn old_province_names_map_to_the_unit_they_merged_into() {
        assert_eq!(province_code("Bình Dương"), Some("79"));
        assert_eq!(province_code("Tỉnh Bà Rịa - Vũng Tàu"), Some("79"));
        assert_eq!(province_code("Thành phố Hồ Chí Minh"), Some("79"));
        assert_eq!(province_code("TP.HCM"), Some("79"));
        assert_eq!(province_code("Thừa Thiên Huế"), Some("46"));
        assert_eq!(province_code("Hoà Bình"), Some("25"));
        assert_eq!(province_code("Nam Định"), Some("37"));
        assert_eq!(province_code("Sóc Trăng"), Some("92"));
        assert_eq!(province_code("Atlantis"), None);
        assert_eq!(province_code(""), None);
    }

    #[test]
    fn all_63_old_provinces_are_known() {
        let codes: std::collections::BTreeSet<_> = OLD_NAMES.iter().map(|(_, c)| *c).collect();
        assert_eq!(codes.len(), 34);
        let old63 = [
            "Hà Nội",
            "Hà Giang",
            "Cao Bằng",
            "Bắc Kạn",
            "Tuyên Quang",
            "Lào Cai",
            "Điện Biên",
            "Lai Châu",
            "Sơn La",
            "Yên Bái",
            "Hòa Bình",
            "Thái Nguyên",
            "Lạng Sơn",
            "Quảng Ninh",
            "Bắc Giang",
            "Phú Thọ",
            "Vĩnh Phúc",
            "Bắc Ninh",
            "Hải Dương",
            "Hải Phòng",
            "Hưng Yên",
            "Thái Bình",
            "Hà Nam",
            "Nam Định",
            "Ninh Bình",
            "Thanh Hóa",
            "Nghệ An",
            "Hà Tĩnh",
            "Quảng Bình",
            "Quảng Trị",
            "Thừa Thiên Huế",
            "Đà Nẵng",
            "Quảng Nam",
            "Quảng Ngãi",
            "Bình Định",
            "Phú Yên",
            "Khánh Hòa",
            "Ninh Thuận",
            "Bình Thuận",
            "Kon Tum",
            "Gia Lai",
            "Đắk Lắk",
            "Đắk Nông",
            "Lâm Đồng",
            "Bình Phước",
            "Tây Ninh",
            "Bình Dương",
            "Đồng Nai",
            "Bà Rịa - Vũng Tàu",
            "Hồ Chí Minh",
            "Long An",
            "Tiền Giang",
            "Bến Tre",
            "Trà Vinh",
            "Vĩnh Long",
            "Đồng Tháp",
            "An Giang",
            "Kiên Giang",
            "Cần Thơ",
            "Hậu Giang",
            "Sóc Trăng",
            "Bạc Liêu",
            "Cà Mau",
        ];
        assert_eq!(old63.len(), 63);
        for name in old63 {
            assert!(province_code(name).is_some(), "{name}");
        }
    }
}
