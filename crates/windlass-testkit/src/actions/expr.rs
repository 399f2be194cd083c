//! The `${{ }}` expression language of GitHub Actions, as far as our
//! action and workflows use it: literals, the contexts the harness hands
//! out, `!`, `==`, `!=`, `&&`, `||`, parentheses, property and index
//! access, and the functions `format`, `contains`, `startsWith`,
//! `endsWith`, `toJSON`, `fromJSON`, `success`, `failure`, `always`,
//! `cancelled`. Anything else is an error, never an empty string.

use serde_json::Value;

use super::HarnessError;

/// What an expression can look up: the contexts, and the job's status.
pub(crate) trait Scope {
    /// `context.key1.key2...` (keys from `.name` or `['name']`). An unknown
    /// context, or a name the harness does not provide where GitHub would,
    /// is an error.
    fn lookup(&self, context: &str, keys: &[String]) -> Result<Value, HarnessError>;
    /// Whether every earlier step succeeded.
    fn success(&self) -> bool;
}

/// Evaluates one expression (the text between `${{` and `}}`).
pub(crate) fn eval(text: &str, scope: &dyn Scope) -> Result<Value, HarnessError> {
    parse(text)?.eval(scope)
}

/// Whether an expression calls a status function (`success()`,
/// `failure()`, `always()`, `cancelled()`); an `if:` without one means
/// `success() && (...)`.
pub(crate) fn calls_status_function(text: &str) -> Result<bool, HarnessError> {
    Ok(parse(text)?.calls_status())
}

/// Interpolates every `${{ }}` in `text`.
pub(crate) fn interpolate(text: &str, scope: &dyn Scope) -> Result<String, HarnessError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let end = expression_end(after)
            .ok_or_else(|| HarnessError::new(format!("unterminated `${{{{` in {text:?}")))?;
        let value = eval(&after[..end], scope)?;
        out.push_str(&to_text(&value, &after[..end])?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The text of an `if:` condition: `${{ x }}` or a bare `x`.
pub(crate) fn condition_text(text: &str) -> &str {
    let trimmed = text.trim();
    trimmed
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .filter(|inner| !inner.contains("${{"))
        .unwrap_or(trimmed)
}

/// The truthiness GitHub gives a value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A value as it is interpolated into text.
pub(crate) fn to_text(value: &Value, expression: &str) -> Result<String, HarnessError> {
    Ok(match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => {
            return Err(HarnessError::new(format!(
                "`{}` is an object or array; interpolate it with toJSON()",
                expression.trim()
            )));
        }
    })
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation, reason = "integral and in range")]
        let i = f as i64;
        i.to_string()
    } else {
        f.to_string()
    }
}

/// Where the expression starting at `text` ends (the index of its `}}`),
/// skipping string literals.
fn expression_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Punct(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, HarnessError> {
    const PUNCTS: [&str; 14] = [
        "==", "!=", "&&", "||", "<=", ">=", "<", ">", "!", "(", ")", "[", "]", ",",
    ];
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(HarnessError::new(format!(
                            "unterminated string in `{text}`"
                        )));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        s.push(c);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let n = s
                .parse()
                .map_err(|_| HarnessError::new(format!("bad number `{s}` in `{text}`")))?;
            tokens.push(Token::Num(n));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == '.' {
            tokens.push(Token::Punct("."));
            i += 1;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let punct = PUNCTS
                .iter()
                .find(|p| rest.starts_with(*p))
                .ok_or_else(|| HarnessError::new(format!("unsupported `{c}` in `{text}`")))?;
            tokens.push(Token::Punct(punct));
            i += punct.len();
        }
    }
    Ok(tokens)
}

#[derive(Debug)]
enum Expr {
    Literal(Value),
    Context(String, Vec<Key>),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// A property of a computed value (`fromJSON(x).a`).
    Index(Box<Expr>, Vec<Key>),
}

#[derive(Debug)]
enum Key {
    Name(String),
    Computed(Expr),
}

fn parse(text: &str) -> Result<Expr, HarnessError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        text,
    };
    let expr = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err(parser.error("unexpected token"));
    }
    Ok(expr)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> HarnessError {
        HarnessError::new(format!(
            "{what} at {:?} in `{}`",
            self.tokens.get(self.pos),
            self.text.trim()
        ))
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.tokens.get(self.pos), Some(Token::Punct(p)) if *p == punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn binary(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Self) -> Result<Expr, HarnessError>,
    ) -> Result<Expr, HarnessError> {
        let mut left = next(self)?;
        'outer: loop {
            for op in ops {
                if self.eat(op) {
                    let right = next(self)?;
                    left = Expr::Binary(op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn or(&mut self) -> Result<Expr, HarnessError> {
        self.binary(&["||"], Self::and)
    }

    fn and(&mut self) -> Result<Expr, HarnessError> {
        self.binary(&["&&"], Self::comparison)
    }

    fn comparison(&mut self) -> Result<Expr, HarnessError> {
        let expr = self.binary(&["==", "!="], Self::unary)?;
        for op in ["<", "<=", ">", ">="] {
            if matches!(self.tokens.get(self.pos), Some(Token::Punct(p)) if *p == op) {
                return Err(self.error("the harness does not support ordering comparisons"));
            }
        }
        Ok(expr)
    }

    fn unary(&mut self) -> Result<Expr, HarnessError> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn keys(&mut self) -> Result<Vec<Key>, HarnessError> {
        let mut keys = Vec::new();
        loop {
            if self.eat(".") {
                match self.tokens.get(self.pos).cloned() {
                    Some(Token::Ident(name)) => {
                        self.pos += 1;
                        keys.push(Key::Name(name));
                    }
                    _ => return Err(self.error("expected a property name")),
                }
            } else if self.eat("[") {
                let index = self.or()?;
                if !self.eat("]") {
                    return Err(self.error("expected `]`"));
                }
                keys.push(Key::Computed(index));
            } else {
                return Ok(keys);
            }
        }
    }

    fn postfix(&mut self) -> Result<Expr, HarnessError> {
        let token = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| self.error("unexpected end"))?;
        self.pos += 1;
        let primary = match token {
            Token::Str(s) => Expr::Literal(Value::String(s)),
            Token::Num(n) => Expr::Literal(serde_json::json!(n)),
            Token::Punct("(") => {
                let inner = self.or()?;
                if !self.eat(")") {
                    return Err(self.error("expected `)`"));
                }
                inner
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Expr::Literal(Value::Bool(true)),
                "false" => Expr::Literal(Value::Bool(false)),
                "null" => Expr::Literal(Value::Null),
                _ if self.eat("(") => {
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.or()?);
                            if self.eat(")") {
                                break;
                            }
                            if !self.eat(",") {
                                return Err(self.error("expected `,` or `)`"));
                            }
                        }
                    }
                    Expr::Call(name, args)
                }
                _ => return Ok(Expr::Context(name, self.keys()?)),
            },
            Token::Punct(_) => return Err(self.error("unexpected token")),
        };
        let keys = self.keys()?;
        Ok(if keys.is_empty() {
            primary
        } else {
            Expr::Index(Box::new(primary), keys)
        })
    }
}

const STATUS_FUNCTIONS: [&str; 4] = ["success", "failure", "always", "cancelled"];

impl Expr {
    fn calls_status(&self) -> bool {
        match self {
            Self::Literal(_) => false,
            Self::Context(_, keys) => keys.iter().any(Key::calls_status),
            Self::Call(name, args) => {
                STATUS_FUNCTIONS.contains(&name.as_str()) || args.iter().any(Self::calls_status)
            }
            Self::Not(e) => e.calls_status(),
            Self::Binary(_, a, b) => a.calls_status() || b.calls_status(),
            Self::Index(e, keys) => e.calls_status() || keys.iter().any(Key::calls_status),
        }
    }

    fn eval(&self, scope: &dyn Scope) -> Result<Value, HarnessError> {
        match self {
            Self::Literal(v) => Ok(v.clone()),
            Self::Context(name, keys) => {
                let keys = keys
                    .iter()
                    .map(|k| k.eval(scope))
                    .collect::<Result<Vec<_>, _>>()?;
                scope.lookup(name, &keys)
            }
            Self::Index(base, keys) => {
                let mut value = base.eval(scope)?;
                for key in keys {
                    let key = key.eval(scope)?;
                    value = property(&value, &key);
                }
                Ok(value)
            }
            Self::Not(e) => Ok(Value::Bool(!truthy(&e.eval(scope)?))),
            Self::Binary(op, a, b) => {
                let left = a.eval(scope)?;
                match *op {
                    "&&" => {
                        if truthy(&left) {
                            b.eval(scope)
                        } else {
                            Ok(left)
                        }
                    }
                    "||" => {
                        if truthy(&left) {
                            Ok(left)
                        } else {
                            b.eval(scope)
                        }
                    }
                    "==" => Ok(Value::Bool(loose_eq(&left, &b.eval(scope)?))),
                    "!=" => Ok(Value::Bool(!loose_eq(&left, &b.eval(scope)?))),
                    _ => Err(HarnessError::new(format!("unsupported operator `{op}`"))),
                }
            }
            Self::Call(name, args) => call(name, args, scope),
        }
    }
}

impl Key {
    fn calls_status(&self) -> bool {
        match self {
            Self::Name(_) => false,
            Self::Computed(e) => e.calls_status(),
        }
    }

    fn eval(&self, scope: &dyn Scope) -> Result<String, HarnessError> {
        match self {
            Self::Name(n) => Ok(n.clone()),
            Self::Computed(e) => {
                let v = e.eval(scope)?;
                to_text(&v, "an index")
            }
        }
    }
}

/// A property of a value (objects case-insensitively, as GitHub does);
/// anything missing is null.
pub(crate) fn property(value: &Value, key: &str) -> Value {
    match value {
        Value::Object(map) => map
            .get(key)
            .or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .cloned()
            .unwrap_or(Value::Null),
        Value::Array(items) => key
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i).cloned())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn to_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

/// GitHub's `==`: strings case-insensitively, other mixed types as numbers,
/// objects and arrays never.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.to_lowercase() == y.to_lowercase(),
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => {
            let (x, y) = (to_number(a), to_number(b));
            #[allow(clippy::float_cmp, reason = "GitHub compares numbers exactly")]
            let equal = x == y;
            equal
        }
    }
}

fn string_arg(value: &Value, function: &str) -> Result<String, HarnessError> {
    to_text(value, function)
}

fn call(name: &str, args: &[Expr], scope: &dyn Scope) -> Result<Value, HarnessError> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(HarnessError::new(format!(
                "{name}() takes {n} arguments, got {}",
                args.len()
            )))
        }
    };
    let values = || {
        args.iter()
            .map(|a| a.eval(scope))
            .collect::<Result<Vec<_>, _>>()
    };
    match name {
        "success" => arity(0).map(|()| Value::Bool(scope.success())),
        "failure" => arity(0).map(|()| Value::Bool(!scope.success())),
        "always" => arity(0).map(|()| Value::Bool(true)),
        "cancelled" => arity(0).map(|()| Value::Bool(false)),
        "contains" => {
            arity(2)?;
            let v = values()?;
            Ok(Value::Bool(match &v[0] {
                Value::Array(items) => items.iter().any(|i| loose_eq(i, &v[1])),
                other => string_arg(other, name)?
                    .to_lowercase()
                    .contains(&string_arg(&v[1], name)?.to_lowercase()),
            }))
        }
        "startsWith" | "endsWith" => {
            arity(2)?;
            let v = values()?;
            let (s, affix) = (
                string_arg(&v[0], name)?.to_lowercase(),
                string_arg(&v[1], name)?.to_lowercase(),
            );
            Ok(Value::Bool(if name == "startsWith" {
                s.starts_with(&affix)
            } else {
                s.ends_with(&affix)
            }))
        }
        "format" => {
            let v = values()?;
            let (first, rest) = v
                .split_first()
                .ok_or_else(|| HarnessError::new("format() needs a format string"))?;
            format(&string_arg(first, name)?, rest)
        }
        "toJSON" => {
            arity(1)?;
            let v = values()?;
            serde_json::to_string_pretty(&v[0])
                .map(Value::String)
                .map_err(|e| HarnessError::new(format!("toJSON: {e}")))
        }
        "fromJSON" => {
            arity(1)?;
            let v = values()?;
            let text = string_arg(&v[0], name)?;
            serde_json::from_str(&text)
                .map_err(|e| HarnessError::new(format!("fromJSON({text:?}): {e}")))
        }
        _ => Err(HarnessError::new(format!(
            "the harness does not implement the function `{name}()`"
        ))),
    }
}

fn format(template: &str, args: &[Value]) -> Result<Value, HarnessError> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut index = String::new();
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                    index.push(d);
                }
                let arg = index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| args.get(i))
                    .ok_or_else(|| {
                        HarnessError::new(format!("format({template:?}): no argument {{{index}}}"))
                    })?;
                out.push_str(&to_text(arg, "a format argument")?);
            }
            '}' => {
                return Err(HarnessError::new(format!(
                    "format({template:?}): unmatched `}}`"
                )));
            }
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}
