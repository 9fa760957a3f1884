//! Numbers in words for the causes of changes: `1,204`, `7.3 %`, `60 s`,
//! `` `api`, `web` ``.

use std::time::Duration;

/// How many pool names a cause lists before "and N more".
const MAX_NAMES: usize = 5;

/// `n` with thousands separators: `1,204`.
pub(super) fn count(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share in `[0, 1]` as a percentage for people: one decimal below 10 %
/// (`7.3 %`), whole numbers above (`12 %`), and never rounded to `0 %` or
/// `100 %` when it is not exactly that.
pub(super) fn percent(share: f64) -> String {
    let p = (share * 100.0).clamp(0.0, 100.0);
    if p == 0.0 || p == 100.0 {
        format!("{p:.0} %")
    } else if p < 0.1 {
        "< 0.1 %".to_owned()
    } else if p < 10.0 {
        format!("{p:.1} %")
    } else if p >= 99.5 {
        // Truncate, so 99.97 % of failures does not read as every request.
        format!("{:.1} %", (p * 10.0).floor() / 10.0)
    } else {
        format!("{p:.0} %")
    }
}

/// A period: `60 s`, `5 min`, `90 s`.
pub(super) fn period(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 {
        format!("{:.1} s", d.as_secs_f64())
    } else if secs >= 120 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// Names in backticks, at most a few: `` `a`, `b` and 3 more ``.
pub(super) fn names(list: &[String]) -> String {
    let mut out = list
        .iter()
        .take(MAX_NAMES)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > MAX_NAMES {
        out.push_str(&format!(" and {} more", list.len() - MAX_NAMES));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_204), "1,204");
        assert_eq!(count(12_345_678), "12,345,678");
    }

    #[test]
    fn percentages_read_naturally_and_never_overstate() {
        assert_eq!(percent(0.0), "0 %");
        assert_eq!(percent(0.0004), "< 0.1 %");
        assert_eq!(percent(0.073), "7.3 %");
        assert_eq!(percent(0.12), "12 %");
        assert_eq!(percent(0.9997), "99.9 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(3.0), "100 %", "clamped");
    }

    #[test]
    fn periods_and_names() {
        assert_eq!(period(Duration::from_secs(60)), "60 s");
        assert_eq!(period(Duration::from_secs(300)), "5 min");
        assert_eq!(period(Duration::from_millis(1500)), "1.5 s");
        let list: Vec<String> = (1..=7).map(|i| format!("p{i}")).collect();
        assert_eq!(names(&list[..2]), "`p1`, `p2`");
        assert_eq!(names(&list), "`p1`, `p2`, `p3`, `p4`, `p5` and 2 more");
    }
}
