//! Label-set edits the operators need: drop the metric name, keep or remove some labels,
//! set one label.

use crate::value::{Label, Labels, METRIC_NAME};

pub(crate) fn drop_name(l: &Labels) -> Labels {
    if l.get(METRIC_NAME).is_empty() {
        return l.clone();
    }
    Labels::from_sorted_unchecked(
        l.iter()
            .filter(|x| x.name != METRIC_NAME)
            .cloned()
            .collect(),
    )
}

/// Only the labels named in `names` (`by`, `on`).
pub(crate) fn keep_only(l: &Labels, names: &[String]) -> Labels {
    Labels::from_sorted_unchecked(
        l.iter()
            .filter(|x| names.contains(&x.name))
            .cloned()
            .collect(),
    )
}

/// All labels but those named in `names` and the metric name (`without`, `ignoring`).
pub(crate) fn without(l: &Labels, names: &[String]) -> Labels {
    Labels::from_sorted_unchecked(
        l.iter()
            .filter(|x| x.name != METRIC_NAME && !names.contains(&x.name))
            .cloned()
            .collect(),
    )
}

/// `l` with label `name` set to `value` (removed when `value` is empty).
pub(crate) fn with_label(l: &Labels, name: &str, value: &str) -> Labels {
    let mut v: Vec<Label> = l.iter().filter(|x| x.name != name).cloned().collect();
    if !value.is_empty() {
        let at = v.partition_point(|x| x.name.as_str() < name);
        v.insert(at, Label::new(name, value));
    }
    Labels::from_sorted_unchecked(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().copied()).unwrap()
    }

    #[test]
    fn edits_keep_labels_sorted() {
        let l = ls(&[("__name__", "up"), ("job", "a"), ("instance", "x")]);
        assert_eq!(drop_name(&l), ls(&[("job", "a"), ("instance", "x")]));
        assert_eq!(keep_only(&l, &["job".into()]), ls(&[("job", "a")]));
        assert_eq!(without(&l, &["job".into()]), ls(&[("instance", "x")]));
        assert_eq!(
            with_label(&l, "le", "1"),
            ls(&[
                ("__name__", "up"),
                ("job", "a"),
                ("instance", "x"),
                ("le", "1")
            ])
        );
        assert_eq!(
            with_label(&l, "job", ""),
            ls(&[("__name__", "up"), ("instance", "x")])
        );
    }
}
