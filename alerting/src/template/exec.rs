//! Go text/template's executor (`exec.go`): walks a parsed tree with a dot value and a
//! variable stack, evaluates pipelines, fields and function calls with Go's argument
//! conversion rules, and reports failures as Go does — `template: NAME:LINE:COL: executing
//! "NAME" at <NODE>: msg`, NODE being the node Go was "at" when it failed.

use std::collections::BTreeMap;

use super::builtins;
use super::go_fmt::{go_quote, sprint_value};
use super::parser::{Arg, Branch, Command, Node, Pipe, Tree};
use super::{Functions, ParamType, Signature, TemplateError, TemplateErrorKind, Value};

/// How deeply execution may nest (template calls, control structures and parenthesised
/// pipelines together). Go allows 100000 template calls on its growable stacks; a Rust thread's
/// stack holds far fewer nested walks, and only a runaway recursion gets anywhere near either.
const MAX_EXEC_DEPTH: usize = 250;

/// Why a walk stopped early: an error, or `break`/`continue` unwinding to their `range`.
enum Flow {
    Error(TemplateError),
    Break,
    Continue,
}

type Res<T> = Result<T, Flow>;

/// The node execution is at, for error messages.
#[derive(Clone, Copy)]
enum At<'a> {
    Nothing,
    Node(&'a Node),
    Pipe(&'a Pipe),
    Cmd(&'a Command),
    Arg(&'a Arg),
}

impl At<'_> {
    fn describe(&self) -> Option<(usize, String)> {
        match self {
            At::Nothing => None,
            At::Node(n) => Some((n.pos(), n.to_string())),
            At::Pipe(p) => Some((p.pos, p.to_string())),
            At::Cmd(c) => Some((c.pos, c.to_string())),
            At::Arg(a) => Some((a.pos(), a.to_string())),
        }
    }
}

struct State<'a> {
    trees: &'a BTreeMap<String, Tree>,
    /// html/template's escaping of every action's output (Alertmanager's HTML bodies).
    html: bool,
    funcs: &'a dyn Functions,
    tree: &'a Tree,
    vars: Vec<(String, Value)>,
    at: At<'a>,
    depth: usize,
    out: String,
}

pub(super) fn execute(
    trees: &BTreeMap<String, Tree>,
    tree: &Tree,
    data: &Value,
    funcs: &dyn Functions,
    html: bool,
) -> Result<String, TemplateError> {
    let mut s = State {
        trees,
        html,
        funcs,
        tree,
        vars: vec![("$".to_string(), data.clone())],
        at: At::Nothing,
        depth: 0,
        out: String::new(),
    };
    match s.walk_list(data, &tree.root) {
        Ok(()) => Ok(s.out),
        Err(Flow::Error(e)) => Err(e),
        // The parser only accepts break/continue inside range.
        Err(Flow::Break | Flow::Continue) => Ok(s.out),
    }
}

/// The argument a command receives from the previous pipeline stage, if any.
type Final = Option<Value>;

impl<'a> State<'a> {
    fn errorf(&self, msg: impl std::fmt::Display) -> Flow {
        let name = &self.tree.name;
        let message = match self.at.describe() {
            None => format!("template: {name}: {msg}"),
            Some((pos, context)) => {
                let text = &self.tree.text[..pos.min(self.tree.text.len())];
                let (line, col) = match text.rfind('\n') {
                    None => (1, pos),
                    Some(nl) => (1 + text.matches('\n').count(), pos - (nl + 1)),
                };
                format!(
                    "template: {}:{}:{}: executing {} at <{}>: {}",
                    self.tree.parse_name,
                    line,
                    col,
                    go_quote(name),
                    context,
                    msg
                )
            }
        };
        Flow::Error(TemplateError {
            kind: TemplateErrorKind::Execute,
            template: name.clone(),
            message,
        })
    }

    fn var_value(&self, name: &str) -> Res<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, name: &str, value: Value) -> Res<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> Res<()> {
        for node in list {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> Res<()> {
        self.at = At::Node(node);
        if matches!(node, Node::Text { .. } | Node::Action { .. }) {
            return self.walk_leaf(dot, node);
        }
        if self.depth >= MAX_EXEC_DEPTH {
            return Err(self.errorf(format!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            )));
        }
        self.depth += 1;
        let r = self.walk_leaf(dot, node);
        self.depth -= 1;
        r
    }

    fn walk_leaf(&mut self, dot: &Value, node: &'a Node) -> Res<()> {
        match node {
            Node::Text { text, .. } => self.out.push_str(text),
            Node::Action { pipe, .. } => {
                // Variables declared here persist until the enclosing end.
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    self.print_value(&val);
                }
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b)?,
            Node::With(b) => self.walk_if_or_with(true, dot, b)?,
            Node::Range(b) => self.walk_range(dot, node, b)?,
            Node::Template { name, pipe, .. } => {
                self.walk_template(dot, node, name, pipe.as_ref())?
            }
            Node::Break { .. } => return Err(Flow::Break),
            Node::Continue { .. } => return Err(Flow::Continue),
        }
        Ok(())
    }

    fn print_value(&mut self, v: &Value) {
        if self.html {
            // html/template escapes what an action prints unless it is already HTML. (Go's
            // escaper is contextual; Cairn escapes for the HTML text and quoted-attribute
            // contexts everywhere, which is what notification templates print into.)
            let text = match v {
                Value::Html(s) => {
                    self.out.push_str(s);
                    return;
                }
                Value::Nil => String::new(),
                Value::Struct { type_name, fields } if type_name.starts_with('*') => {
                    sprint_value(&Value::Struct {
                        type_name: type_name[1..].to_string(),
                        fields: fields.clone(),
                    })
                }
                v => sprint_value(v),
            };
            self.out.push_str(&builtins::html_template_escape(&text));
            return;
        }
        match v {
            // Go's printableValue: an invalid value prints as <no value>.
            Value::Nil => self.out.push_str("<no value>"),
            // Go's printableValue dereferences a pointer before printing: {..}, not &{..}.
            Value::Struct { type_name, fields } if type_name.starts_with('*') => {
                let deref = Value::Struct {
                    type_name: type_name[1..].to_string(),
                    fields: fields.clone(),
                };
                self.out.push_str(&sprint_value(&deref));
            }
            v => self.out.push_str(&sprint_value(v)),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &'a Branch) -> Res<()> {
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, &b.pipe)?;
            if val.is_true() {
                if with {
                    self.walk_list(&val, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(else_list) = &b.else_list {
                self.walk_list(dot, else_list)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Value, node: &'a Node, b: &'a Branch) -> Res<()> {
        self.at = At::Node(node);
        let mark_outer = self.vars.len();
        let r = self.walk_range_inner(dot, b);
        self.vars.truncate(mark_outer);
        match r {
            Err(Flow::Break) => Ok(()),
            r => r,
        }
    }

    fn walk_range_inner(&mut self, dot: &Value, b: &'a Branch) -> Res<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let ndecl = b.pipe.decl.len();
        let items: Vec<(Value, Value)> = match val.underlying() {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                .collect(),
            Value::Nil => Vec::new(),
            // Go 1.22 ranges over integers: 0..n, the element being the index.
            Value::Int(n) => {
                if ndecl > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            other => {
                // Go reports this at the last node the pipeline evaluated.
                return Err(
                    self.errorf(format!("range can't iterate over {}", sprint_value(other)))
                );
            }
        };
        if items.is_empty() {
            if let Some(else_list) = &b.else_list {
                return self.walk_list(dot, else_list);
            }
            return Ok(());
        }
        for (index, elem) in items {
            // The declared variables sit on top of the stack: element last, index before it.
            if ndecl > 0 {
                let n = self.vars.len();
                self.vars[n - 1].1 = elem.clone();
            }
            if ndecl > 1 {
                let n = self.vars.len();
                self.vars[n - 2].1 = index;
            }
            let r = self.walk_list(&elem, &b.list);
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        node: &'a Node,
        name: &str,
        pipe: Option<&'a Pipe>,
    ) -> Res<()> {
        self.at = At::Node(node);
        let Some(tree) = self.trees.get(name) else {
            return Err(self.errorf(format!("template {} not defined", go_quote(name))));
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        // No dynamic scoping: the called template sees only $ (its dot).
        let saved_vars =
            std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
        let saved_tree = std::mem::replace(&mut self.tree, tree);
        let r = self.walk_list(&new_dot, &tree.root);
        self.tree = saved_tree;
        self.vars = saved_vars;
        r
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> Res<Value> {
        self.at = At::Pipe(pipe);
        let mut value: Final = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Final) -> Res<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, fin: Final) -> Res<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { ident, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot, dot.clone(), ident, &cmd.args, fin);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { .. } => self.ideal_constant(first),
            Arg::String { text, .. } => Ok(Value::Str(text.clone())),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            ))),
        }
    }

    /// A number constant where no type is known: int unless its syntax says float.
    fn ideal_constant(&mut self, arg: &'a Arg) -> Res<Value> {
        self.at = At::Arg(arg);
        let Arg::Number { num, .. } = arg else {
            return Ok(Value::Nil);
        };
        let t = &num.text;
        let is_hex = t.len() > 2
            && t.starts_with('0')
            && (t.as_bytes()[1] | 0x20) == b'x'
            && !t.contains(['p', 'P']);
        let is_rune = t.starts_with('\'');
        if let Some(f) = num.float
            && !is_hex
            && !is_rune
            && t.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = num.int {
            return Ok(Value::Int(i));
        }
        if num.uint.is_some() {
            return Err(self.errorf(format!("{t} overflows int")));
        }
        Ok(Value::Nil)
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        chain: &'a Arg,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        self.at = At::Arg(chain);
        let Arg::Chain { node, fields, .. } = chain else {
            return Ok(Value::Nil);
        };
        if let Arg::Nil { .. } = node.as_ref() {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(dot, receiver, fields, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        var: &'a Arg,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        self.at = At::Arg(var);
        let Arg::Variable { ident, .. } = var else {
            return Ok(Value::Nil);
        };
        let value = self.var_value(&ident[0])?;
        if ident.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, &ident[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        ident: &[String],
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        let n = ident.len();
        // Whether the receiver's static Go type is interface{} (a generic map's element or an
        // interface-typed field): Go names that type, not the dynamic one, in errors.
        let mut iface = false;
        for name in &ident[..n - 1] {
            (receiver, iface) = self.eval_field(dot, name, &[], None, &receiver, iface)?;
        }
        Ok(self
            .eval_field(dot, &ident[n - 1], args, fin, &receiver, iface)?
            .0)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        args: &'a [Arg],
        fin: Final,
        receiver: &Value,
        iface: bool,
    ) -> Res<(Value, bool)> {
        let has_args = args.len() > 1 || fin.is_some();
        let type_name = if iface {
            "interface {}".to_string()
        } else {
            receiver.go_type()
        };
        match receiver {
            // missingkey=zero: a field of nothing is nothing.
            Value::Nil => Ok((Value::Nil, false)),
            Value::Struct { type_name: t, .. } => match receiver.field(name) {
                Some(v) => {
                    if has_args {
                        return Err(self.errorf(format!(
                            "{name} has arguments but cannot be invoked as function"
                        )));
                    }
                    let field_iface = t.contains(&format!(" {name} interface {{}}"));
                    Ok((v.clone(), field_iface))
                }
                None => {
                    Err(self.errorf(format!("can't evaluate field {name} in type {type_name}")))
                }
            },
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                let string_map = Value::is_string_map(m);
                match m.get(name) {
                    Some(v) => Ok((v.clone(), !string_map)),
                    None if string_map => Ok((Value::Str(String::new()), false)),
                    None => Ok((Value::Nil, true)),
                }
            }
            Value::Time(_) | Value::Duration(_) if Self::is_method(receiver, name) => {
                Ok((self.call_method(dot, receiver, name, args, fin)?, false))
            }
            // A method of a named type first, as Go looks methods up before fields and keys.
            Value::Object(o) => match o.method(name) {
                Some(m) => Ok((self.call_object_method(dot, o, m, args, fin)?, false)),
                None => self.eval_field(dot, name, args, fin, &o.inner, iface),
            },
            _ => Err(self.errorf(format!("can't evaluate field {name} in type {type_name}"))),
        }
    }

    fn signature(&self, name: &str) -> Signature {
        if self.funcs.has(name) {
            return self
                .funcs
                .signature(name)
                .unwrap_or_else(|| Signature::variadic(&[], ParamType::Any));
        }
        builtins::signature(name).unwrap_or_else(|| Signature::variadic(&[], ParamType::Any))
    }

    /// Calls function `name`. `node` is where Go reports a failed call (the command, or the
    /// identifier when the function is an argument).
    fn eval_function(
        &mut self,
        dot: &Value,
        ident: &'a Arg,
        name: &str,
        node: At<'a>,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        self.at = At::Arg(ident);
        let user = self.funcs.has(name);
        if !user && !builtins::is_builtin(name) {
            return Err(self.errorf(format!("{} is not a defined function", go_quote(name))));
        }
        let sig = self.signature(name);
        let args = if args.is_empty() { args } else { &args[1..] };
        self.check_arg_count(name, &sig, args.len(), fin.is_some())?;
        if !user && (name == "and" || name == "or") {
            // Short-circuit: the first argument that decides is the result.
            let mut v = Value::Nil;
            for arg in args {
                v = self.eval_arg(dot, Some(ParamType::Any), arg)?;
                if v.is_true() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let argv = self.eval_args(dot, &sig, args, fin)?;
        let result = if user {
            self.funcs.call(name, &argv)
        } else {
            builtins::call(name, &argv)
        };
        match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => {
                self.at = node;
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
            None => Err(self.errorf(format!("{} is not a defined function", go_quote(name)))),
        }
    }

    /// Go's argument count check of evalCall.
    fn check_arg_count(
        &self,
        name: &str,
        sig: &Signature,
        nargs: usize,
        has_final: bool,
    ) -> Res<()> {
        let num_in = nargs + usize::from(has_final);
        let num_fixed = sig.params.len();
        if sig.variadic.is_some() {
            if num_in < num_fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {nargs}"
                )));
            }
        } else if num_in != num_fixed {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {num_fixed} got {num_in}"
            )));
        }
        Ok(())
    }

    /// Evaluates a call's arguments against the parameter types; the piped value goes last.
    fn eval_args(
        &mut self,
        dot: &Value,
        sig: &Signature,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Vec<Value>> {
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = sig.params.len();
        let mut argv = Vec::with_capacity(num_in);
        for (i, arg) in args.iter().enumerate() {
            let typ = sig
                .params
                .get(i)
                .copied()
                .or(sig.variadic)
                .unwrap_or(ParamType::Any);
            argv.push(self.eval_arg(dot, Some(typ), arg)?);
        }
        if let Some(f) = fin {
            let typ = if sig.variadic.is_some() {
                if num_in - 1 < num_fixed {
                    sig.params[num_in - 1]
                } else {
                    sig.variadic.unwrap_or(ParamType::Any)
                }
            } else {
                sig.params.last().copied().unwrap_or(ParamType::Any)
            };
            argv.push(self.validate_type(f, Some(typ))?);
        }
        Ok(argv)
    }

    /// Calls a named type's method with the call's arguments.
    fn call_object_method(
        &mut self,
        dot: &Value,
        o: &super::value::Object,
        m: &super::value::Method,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        let sig = Signature {
            params: m.params.to_vec(),
            variadic: m.variadic,
        };
        let at = self.at;
        let args = if args.is_empty() { args } else { &args[1..] };
        self.check_arg_count(m.name, &sig, args.len(), fin.is_some())?;
        let argv = self.eval_args(dot, &sig, args, fin)?;
        (m.call)(&o.inner, &argv).map_err(|e| {
            self.at = at;
            self.errorf(format!("error calling {}: {e}", m.name))
        })
    }

    /// Calls a method of a time or duration value (the ones templates use).
    fn call_method(
        &mut self,
        dot: &Value,
        receiver: &Value,
        name: &str,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        use ParamType as P;
        let sig = match (receiver, name) {
            (Value::Time(_), "Format") => Signature::fixed(&[P::String]),
            (Value::Time(_), "Add") => Signature::fixed(&[P::Duration]),
            (Value::Time(_), "Sub") => Signature::fixed(&[P::Time]),
            _ => Signature::fixed(&[]),
        };
        let args = if args.is_empty() { args } else { &args[1..] };
        self.check_arg_count(name, &sig, args.len(), fin.is_some())?;
        let argv = self.eval_args(dot, &sig, args, fin)?;
        let arg = |i: usize| argv.get(i).cloned().unwrap_or(Value::Nil);
        Ok(match (receiver, name) {
            (Value::Time(t), "Format") => match arg(0) {
                Value::Str(layout) => Value::Str(t.format(&layout)),
                _ => Value::Nil,
            },
            (Value::Time(t), "Add") => match arg(0) {
                Value::Duration(d) | Value::Int(d) => Value::Time(t.add_nanos(d)),
                _ => Value::Nil,
            },
            (Value::Time(t), "Sub") => match arg(0) {
                Value::Time(u) => Value::Duration(t.sub(&u)),
                _ => Value::Nil,
            },
            (Value::Time(t), "String") => Value::Str(t.string()),
            (Value::Time(t), "Unix") => Value::Int(t.secs),
            (Value::Time(t), "UnixMilli") => Value::Int(t.unix_nanos().div_euclid(1_000_000)),
            (Value::Time(t), "UnixNano") => Value::Int(t.unix_nanos()),
            (Value::Time(t), "UTC" | "Local") => Value::Time(t.utc()),
            (Value::Time(t), "IsZero") => Value::Bool(t.is_zero()),
            (Value::Time(t), _) => {
                let c = t.civil();
                match name {
                    "Year" => Value::Int(c.year),
                    "Month" => Value::Str(t.format("January")),
                    "Day" => Value::Int(i64::from(c.day)),
                    "Hour" => Value::Int(i64::from(c.hour)),
                    "Minute" => Value::Int(i64::from(c.minute)),
                    "Second" => Value::Int(i64::from(c.second)),
                    "Nanosecond" => Value::Int(i64::from(c.nanos)),
                    "YearDay" => Value::Int(i64::from(c.yday)),
                    "Weekday" => Value::Str(t.format("Monday")),
                    _ => Value::Nil,
                }
            }
            (Value::Duration(d), "String") => Value::Str(super::go_time::duration_string(*d)),
            (Value::Duration(d), "Seconds") => Value::Float(*d as f64 / 1e9),
            (Value::Duration(d), "Minutes") => Value::Float(*d as f64 / 6e10),
            (Value::Duration(d), "Hours") => Value::Float(*d as f64 / 3.6e12),
            (Value::Duration(d), "Milliseconds") => Value::Int(d / 1_000_000),
            (Value::Duration(d), "Nanoseconds") => Value::Int(*d),
            _ => Value::Nil,
        })
    }

    fn is_method(receiver: &Value, name: &str) -> bool {
        match receiver {
            Value::Time(_) => matches!(
                name,
                "Format"
                    | "Add"
                    | "Sub"
                    | "String"
                    | "Unix"
                    | "UnixMilli"
                    | "UnixNano"
                    | "UTC"
                    | "Local"
                    | "IsZero"
                    | "Year"
                    | "Month"
                    | "Day"
                    | "Hour"
                    | "Minute"
                    | "Second"
                    | "Nanosecond"
                    | "YearDay"
                    | "Weekday"
            ),
            Value::Duration(_) => {
                matches!(
                    name,
                    "String" | "Seconds" | "Minutes" | "Hours" | "Milliseconds" | "Nanoseconds"
                )
            }
            _ => false,
        }
    }

    /// Go's validateType: whether a computed value fits the parameter type.
    fn validate_type(&self, value: Value, typ: Option<ParamType>) -> Res<Value> {
        let Some(typ) = typ else {
            return Ok(value);
        };
        // Go assigns a named type's value to a parameter of its underlying type.
        let value = match value {
            Value::Object(o) if typ != ParamType::Any => *o.inner,
            v => v,
        };
        let ok = match (typ, &value) {
            (ParamType::Any, _) => true,
            (ParamType::Sample | ParamType::QueryResult, Value::Nil) => true,
            (_, Value::Nil) => {
                return Err(self.errorf(format!("invalid value; expected {}", typ.go_name())));
            }
            (ParamType::String, Value::Str(_)) => true,
            (ParamType::Float, Value::Float(_)) => true,
            (ParamType::Int, Value::Int(_)) => true,
            (ParamType::Bool, Value::Bool(_)) => true,
            // Go dereferences *time.Duration and *time.Time for value parameters.
            (ParamType::Duration, Value::Duration(_)) => true,
            (ParamType::Time, Value::Time(_)) => true,
            (ParamType::Sample, Value::Struct { type_name, .. }) => type_name == "*template.sample",
            (ParamType::QueryResult, Value::List(_)) => true,
            _ => false,
        };
        if !ok {
            return Err(self.errorf(format!(
                "wrong type for value; expected {}; got {}",
                typ.go_name(),
                value.go_type()
            )));
        }
        Ok(value)
    }

    /// Go's evalArg: evaluates an argument for a parameter of type `typ` (None: as is).
    fn eval_arg(&mut self, dot: &Value, typ: Option<ParamType>, arg: &'a Arg) -> Res<Value> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Dot { .. } => return self.validate_type(dot.clone(), typ),
            Arg::Nil { .. } => {
                return match typ {
                    None | Some(ParamType::Any | ParamType::Sample | ParamType::QueryResult) => {
                        Ok(Value::Nil)
                    }
                    Some(t) => Err(self.errorf(format!("cannot assign nil to {}", t.go_name()))),
                };
            }
            Arg::Field { ident, .. } => {
                let v = self.eval_field_chain(
                    dot,
                    dot.clone(),
                    ident,
                    std::slice::from_ref(arg),
                    None,
                )?;
                return self.validate_type(v, typ);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable(dot, arg, &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier { name, .. } => {
                let v = self.eval_function(dot, arg, name, At::Arg(arg), &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain(dot, arg, &[], None)?;
                return self.validate_type(v, typ);
            }
            _ => {}
        }
        match typ {
            None | Some(ParamType::Any) => match arg {
                Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
                Arg::Number { .. } => self.ideal_constant(arg),
                Arg::String { text, .. } => Ok(Value::Str(text.clone())),
                _ => Err(self.errorf(format!(
                    "can't handle assignment of {arg} to empty interface argument"
                ))),
            },
            Some(ParamType::Bool) => match arg {
                Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
                _ => Err(self.errorf(format!("expected bool; found {arg}"))),
            },
            Some(ParamType::String) => match arg {
                Arg::String { text, .. } => Ok(Value::Str(text.clone())),
                _ => Err(self.errorf(format!("expected string; found {arg}"))),
            },
            Some(ParamType::Float) => match arg {
                Arg::Number { num, .. } if num.float.is_some() => {
                    Ok(Value::Float(num.float.unwrap_or(0.0)))
                }
                _ => Err(self.errorf(format!("expected float; found {arg}"))),
            },
            Some(ParamType::Int) => match arg {
                Arg::Number { num, .. } if num.int.is_some() => {
                    Ok(Value::Int(num.int.unwrap_or(0)))
                }
                _ => Err(self.errorf(format!("expected integer; found {arg}"))),
            },
            Some(ParamType::Duration) => match arg {
                Arg::Number { num, .. } if num.int.is_some() => {
                    Ok(Value::Duration(num.int.unwrap_or(0)))
                }
                _ => Err(self.errorf(format!("expected integer; found {arg}"))),
            },
            Some(t @ (ParamType::Sample | ParamType::QueryResult | ParamType::Time)) => Err(self
                .errorf(format!(
                    "can't handle {arg} for arg of type {}",
                    t.go_name()
                ))),
        }
    }
}
