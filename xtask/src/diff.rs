//! A line diff for `cargo xtask snapshot --review`: the longest common
//! subsequence of the two texts' lines, shown with a few lines of context.

#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// Above this many cells the table is not built: the middle of the diff is
/// then shown as all old lines removed and all new lines added.
const MAX_CELLS: usize = 4_000_000;

/// The lines of `old` and `new`, each kept, removed or added.
pub fn diff<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let mut lines: Vec<Line> = a[..prefix].iter().map(|l| Line::Same(l)).collect();
    lines.extend(middle(&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]));
    lines.extend(a[a.len() - suffix..].iter().map(|l| Line::Same(l)));
    lines
}

/// The diff of two runs of lines by dynamic programming: `lcs[i][j]` is the
/// length of the longest common subsequence of `a[i..]` and `b[j..]`.
fn middle<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Line<'a>> {
    if a.len() * b.len() > MAX_CELLS {
        return a.iter().map(|l| Line::Removed(l)).chain(b.iter().map(|l| Line::Added(l))).collect();
    }
    let w = b.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * w + j] =
                if a[i] == b[j] { lcs[(i + 1) * w + j + 1] + 1 } else { lcs[(i + 1) * w + j].max(lcs[i * w + j + 1]) };
        }
    }
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            lines.push(Line::Same(a[i]));
            (i, j) = (i + 1, j + 1);
        } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
            lines.push(Line::Removed(a[i]));
            i += 1;
        } else {
            lines.push(Line::Added(b[j]));
            j += 1;
        }
    }
    lines.extend(a[i..].iter().map(|l| Line::Removed(l)));
    lines.extend(b[j..].iter().map(|l| Line::Added(l)));
    lines
}

/// The diff as text: `-` and `+` lines, with `context` unchanged lines
/// around each change and `...` for the unchanged lines left out.
pub fn render(lines: &[Line], context: usize) -> String {
    let changed: Vec<usize> = (0..lines.len()).filter(|&i| !matches!(lines[i], Line::Same(_))).collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= context);
    let mut out = String::new();
    let mut skipped = false;
    for (i, line) in lines.iter().enumerate() {
        let (mark, text) = match line {
            Line::Same(t) => (' ', t),
            Line::Removed(t) => ('-', t),
            Line::Added(t) => ('+', t),
        };
        if mark == ' ' && !near(i) {
            if !skipped {
                out.push_str("   ...\n");
            }
            skipped = true;
            continue;
        }
        skipped = false;
        out.push_str(&format!("{mark} {text}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Line::{Added, Removed, Same};
    use super::*;

    #[test]
    fn a_changed_line_is_removed_then_added_between_the_kept_ones() {
        assert_eq!(diff("a\nb\nc\n", "a\nB\nc\n"), [Same("a"), Removed("b"), Added("B"), Same("c")]);
    }

    #[test]
    fn insertions_and_deletions_keep_the_longest_common_run() {
        assert_eq!(
            diff("x\na\nb\nc\n", "a\nb\ny\nc\nz\n"),
            [Removed("x"), Same("a"), Same("b"), Added("y"), Same("c"), Added("z")]
        );
        assert_eq!(diff("", "new\n"), [Added("new")]);
        assert_eq!(diff("same\n", "same\n"), [Same("same")]);
    }

    #[test]
    fn rendering_keeps_context_around_changes_and_elides_the_rest() {
        let old = "1\n2\n3\n4\n5\n6\n7\n";
        let new = "1\n2\n3\n4\n5\n6\nseven\n";
        assert_eq!(render(&diff(old, new), 1), "   ...\n  6\n- 7\n+ seven\n");
    }
}
