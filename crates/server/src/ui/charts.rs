//! Charts drawn on the server as inline SVG: no chart library, no external service, and the
//! page prints and reads without JavaScript.

use std::fmt::Write;

/// One bar: its label (shown under it or beside it, and as a tooltip) and its value.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub tooltip: String,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Vertical columns, e.g. new members per day. Every `label_every`-th label is written.
pub fn columns(bars: &[Bar], title: &str, label_every: usize) -> String {
    let (width, height, bottom) = (640.0, 180.0, 20.0);
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let step = width / bars.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}" preserveAspectRatio="none">"#,
        escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let h = (bar.value as f64 / max) * (height - bottom - 4.0);
        let x = i as f64 * step;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
            x + step * 0.15,
            height - bottom - h,
            step * 0.7,
            h,
            escape(&bar.tooltip)
        );
        if label_every > 0 && i % label_every == 0 {
            // Kept clear of the left edge, where a centred label would be cut.
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                (x + step / 2.0).max(18.0),
                height - 5.0,
                escape(&bar.label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars with their labels and values, e.g. members per tier.
pub fn rows(bars: &[Bar], title: &str) -> String {
    let (width, row) = (640.0, 28.0);
    let height = row * bars.len().max(1) as f64;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let (label_width, value_width) = (150.0, 110.0);
    let mut svg = format!(
        r#"<svg class="chart rows" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = i as f64 * row;
        let w = (bar.value as f64 / max) * (width - label_width - value_width);
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}" class="label">{}</text><rect x="{label_width}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
            y + row * 0.65,
            escape(&bar.label),
            y + 4.0,
            w.max(1.0),
            row - 8.0,
            escape(&bar.tooltip),
            label_width + w + 6.0,
            y + row * 0.65,
            escape(&bar.tooltip),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_largest() {
        let bars = [
            Bar {
                label: "<Vàng>".into(),
                value: 10,
                tooltip: "10".into(),
            },
            Bar {
                label: "Bạc".into(),
                value: 5,
                tooltip: "5".into(),
            },
        ];
        let svg = rows(&bars, "Hạng");
        assert!(svg.contains("&lt;Vàng&gt;") && !svg.contains("<Vàng>"));
        let svg = columns(&bars, "Mới", 1);
        assert!(svg.contains(r#"height="156.0""#), "{svg}");
        assert!(svg.contains(r#"height="78.0""#), "{svg}");
        assert!(columns(&[], "empty", 1).starts_with("<svg"));
    }
}
