//! The lexer's tokens, trim markers, comments, line numbers and error texts (Go's).

use super::ItemType::*;
use super::*;

fn kinds(input: &str) -> Vec<(ItemType, std::string::String)> {
    lex(input, true, true)
        .into_iter()
        .map(|i| (i.typ, i.val))
        .collect()
}

#[test]
fn lexes_text_actions_and_trim_markers() {
    assert_eq!(
        kinds("a {{- .X | f 1 -}} b"),
        vec![
            (Text, "a".into()),
            (LeftDelim, "{{".into()),
            (Field, ".X".into()),
            (Space, " ".into()),
            (Pipe, "|".into()),
            (Space, " ".into()),
            (Identifier, "f".into()),
            (Space, " ".into()),
            (Number, "1".into()),
            (RightDelim, "}}".into()),
            (Text, "b".into()),
            (Eof, "".into()),
        ]
    );
}

#[test]
fn lexes_variables_strings_and_keywords() {
    assert_eq!(
        kinds("{{$x := `raw` \"q\\\"\" 'a' nil true}}{{end}}"),
        vec![
            (LeftDelim, "{{".into()),
            (Variable, "$x".into()),
            (Space, " ".into()),
            (Declare, ":=".into()),
            (Space, " ".into()),
            (RawString, "`raw`".into()),
            (Space, " ".into()),
            (String, "\"q\\\"\"".into()),
            (Space, " ".into()),
            (CharConstant, "'a'".into()),
            (Space, " ".into()),
            (Nil, "nil".into()),
            (Space, " ".into()),
            (Bool, "true".into()),
            (RightDelim, "}}".into()),
            (LeftDelim, "{{".into()),
            (End, "end".into()),
            (RightDelim, "}}".into()),
            (Eof, "".into()),
        ]
    );
}

#[test]
fn comments_vanish_and_trim() {
    assert_eq!(
        kinds("a  {{- /* c */ -}}  b"),
        vec![(Text, "a".into()), (Text, "b".into()), (Eof, "".into())]
    );
}

#[test]
fn errors_are_gos() {
    let last = |s: &str| lex(s, true, true).pop().map(|i| i.val).unwrap_or_default();
    assert_eq!(last("{{ .X "), "unclosed action");
    assert_eq!(last("{{ \"abc }}"), "unterminated quoted string");
    assert_eq!(last("{{ 3x }}"), "bad number syntax: \"3x\"");
    assert_eq!(last("{{ ( }}"), "unclosed left paren");
    assert_eq!(last("{{ ) }}"), "unexpected right paren U+0029 ')'");
    assert_eq!(last("{{/* x }}"), "unclosed comment");
    assert_eq!(last("{{ .X# }}"), "bad character U+0023 '#'");
}

#[test]
fn line_numbers_follow_newlines() {
    let items = lex("a\nb{{\n.X}}", true, true);
    let field = items.iter().find(|i| i.typ == Field).map(|i| i.line);
    assert_eq!(field, Some(3));
}
