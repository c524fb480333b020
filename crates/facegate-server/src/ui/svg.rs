//! Charts drawn on the server as inline SVG: no chart library, no script,
//! and the CSP's `style-src` is untouched (presentation attributes only).

/// Escape text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A bar chart of `(label, value)` pairs, scaled to the largest value, with
/// each bar titled (hover) and labelled; `title` is its accessible name.
pub fn bar_chart(bars: &[(String, i64)], title: &str) -> String {
    const W: f64 = 640.0;
    const H: f64 = 180.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 16.0;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let n = bars.len().max(1) as f64;
    let slot = W / n;
    let bar_w = (slot * 0.7).max(1.0);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title)
    );
    svg.push_str(&format!(
        r##"<line x1="0" y1="{y}" x2="{W}" y2="{y}" stroke="#94a3b8" stroke-width="1"/>"##,
        y = H - BOTTOM
    ));
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = (*value as f64 / max) * (H - BOTTOM - TOP);
        let x = i as f64 * slot + (slot - bar_w) / 2.0;
        let y = H - BOTTOM - h;
        let label = escape(label);
        svg.push_str(&format!(
            r##"<g><title>{label}: {value}</title><rect x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="#2563eb" rx="2"/>"##
        ));
        if *value > 0 {
            svg.push_str(&format!(
                r##"<text x="{cx:.1}" y="{ty:.1}" font-size="11" text-anchor="middle" fill="#0f172a">{value}</text>"##,
                cx = x + bar_w / 2.0,
                ty = y - 3.0
            ));
        }
        // Day labels: the day of month, so 14 fit on a phone.
        let short = label.rsplit('-').next().unwrap_or(&label);
        svg.push_str(&format!(
            r##"<text x="{cx:.1}" y="{ly:.1}" font-size="11" text-anchor="middle" fill="#475569">{short}</text></g>"##,
            cx = x + bar_w / 2.0,
            ly = H - 8.0
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_text_is_escaped() {
        let svg = bar_chart(&[("2026-01-01".into(), 2), ("2026-01-02".into(), 4)], "a<b");
        assert!(svg.contains(r#"aria-label="a&lt;b""#));
        assert_eq!(svg.matches("<rect").count(), 2);
        // The largest bar takes the full height (180 - 24 - 16 = 140).
        assert!(svg.contains(r#"height="140.0""#), "{svg}");
        assert!(svg.contains(r#"height="70.0""#), "{svg}");
        assert!(bar_chart(&[], "empty").ends_with("</svg>"));
    }
}
