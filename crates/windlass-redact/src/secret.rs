use std::fmt;

/// A value that must never be printed.
///
/// `Debug` and `Display` print `****`. The only way to the value is
/// [`Secret::expose`], which marks the boundary in code review: whatever is
/// done with the exposed value must not reach an output, an error, a log, a
/// file we write or the argv of a child.
///
/// `Secret` deliberately implements neither `Serialize` nor `Deref`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value without registering it with the redactor; prefer
    /// [`Secret::registered`] for values that came from a secret store.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Every call site is a place where a secret leaves its
    /// wrapper: keep the exposed value out of anything printed.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value, ending the protection of the type.
    pub fn into_exposed(self) -> T {
        self.0
    }

    /// Transforms the value while keeping it wrapped.
    #[must_use]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Secret<U> {
        Secret(f(self.0))
    }
}

impl<T: AsRef<str>> Secret<T> {
    /// Wraps a value and registers it with the process-wide redactor, so that
    /// it and its encoded forms are masked in everything Windlass prints.
    pub fn registered(value: T) -> Self {
        crate::global().register(value.as_ref());
        Self(value)
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::MASK)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn formatting_never_reveals() {
        let s = Secret::new("hunter2-canary".to_owned());
        let rendered = [
            format!("{s}"),
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{:?}", Some(&s)),
            format!("{:?}", vec![s.clone()]),
        ];
        insta::assert_debug_snapshot!(rendered, @r#"
        [
            "****",
            "****",
            "****",
            "Some(****)",
            "[****]",
        ]
        "#);
        assert_eq!(s.expose(), "hunter2-canary");
    }

    #[test]
    fn map_keeps_wrapping() {
        let s = Secret::new("abc").map(str::len);
        assert_eq!(format!("{s:?}"), "****");
        assert_eq!(*s.expose(), 3);
    }
}
