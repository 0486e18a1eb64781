//! Positioned YAML: positions as yaml.v3 gives them, nulls, quoting, duplicates, aliases,
//! block scalars and syntax errors.

use super::*;

fn scalar(n: &Node) -> (&str, usize, usize) {
    (n.as_scalar().unwrap_or("<not a scalar>"), n.line, n.column)
}

#[test]
fn positions_are_one_based_like_go_yaml() {
    let root = parse("groups:\n  - name: a\n    rules:\n      - expr: 'x +'\n")
        .unwrap()
        .unwrap();
    let NodeKind::Map(top) = &root.kind else {
        panic!("{root:?}")
    };
    assert_eq!(scalar(&top[0].0), ("groups", 1, 1));
    let NodeKind::Seq(groups) = &top[0].1.kind else {
        panic!()
    };
    let NodeKind::Map(g) = &groups[0].kind else {
        panic!()
    };
    assert_eq!((groups[0].line, groups[0].column), (2, 5));
    assert_eq!(scalar(&g[0].1), ("a", 2, 11));
    let NodeKind::Seq(rules) = &g[1].1.kind else {
        panic!()
    };
    let NodeKind::Map(r) = &rules[0].kind else {
        panic!()
    };
    assert_eq!(scalar(&r[0].1), ("x +", 4, 15));
}

#[test]
fn nulls_quoting_duplicates_and_aliases() {
    let root = parse("a:\nb: ~\nc: 'null'\nc: &x [1, 2]\nd: *x\n")
        .unwrap()
        .unwrap();
    let NodeKind::Map(m) = &root.kind else {
        panic!()
    };
    assert_eq!(m.len(), 5, "duplicate keys are kept");
    assert_eq!(m[0].1.kind, NodeKind::Null);
    assert_eq!(m[1].1.kind, NodeKind::Null);
    assert_eq!(
        m[2].1.kind,
        NodeKind::Scalar {
            value: "null".into(),
            plain: false
        }
    );
    let NodeKind::Seq(items) = &m[4].1.kind else {
        panic!("{:?}", m[4].1)
    };
    assert_eq!(items.len(), 2);
    assert_eq!(m[4].1.line, 5);
}

#[test]
fn block_scalars_are_placed_at_their_indicator() {
    let root = parse("a:\n  b: |\n\n    x +\n    y\n  c: >- # folded\n    z\n")
        .unwrap()
        .unwrap();
    let NodeKind::Map(top) = &root.kind else {
        panic!()
    };
    let NodeKind::Map(inner) = &top[0].1.kind else {
        panic!()
    };
    assert_eq!(scalar(&inner[0].1), ("\nx +\ny\n", 2, 6));
    assert_eq!(scalar(&inner[1].1), ("z", 6, 6));
}

#[test]
fn empty_and_syntax_errors() {
    assert_eq!(parse("").unwrap(), None);
    assert_eq!(parse("# only a comment\n").unwrap(), None);
    let err = parse("groups:\n  - name: a\n   bad: [\n").unwrap_err();
    assert!(err.line >= 2, "{err:?}");
    assert!(!err.message.is_empty());
}
