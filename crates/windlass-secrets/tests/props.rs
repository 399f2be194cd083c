//! Property tests of the secret reference parser: no input panics it, every
//! reference it accepts survives `Display` and a second parse, an error's
//! caret stays under the echoed reference, and an error never echoes a value
//! that is not a reference.

use proptest::prelude::*;
use windlass_secrets::SecretRef;
use windlass_testkit::proptest_config;

const SCHEMES: &[&str] = &["vault", "env", "keyring", "file"];

/// Text made of the characters the grammar cares about, plus a few others
/// (multi-byte, control, whitespace).
fn reference_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9'].into()),
            4 => proptest::sample::select(vec![
                '/', '#', '?', '&', '=', '%', '.', '_', '-', ':', '@', '~', ' ',
            ]),
            1 => proptest::sample::select(vec!['é', '€', '日', '\u{1f511}', '\t', '\n', '\u{7}', '\u{85}']),
        ],
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Inputs close to the grammar: a scheme (right, mistyped or unknown), a
/// separator and reference-like text, with an occasional option or
/// percent escape.
fn near_reference() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        4 => proptest::sample::select(SCHEMES.to_vec()).prop_map(str::to_owned),
        1 => proptest::sample::select(vec!["VAULT", "https", "vault+x", "", "1env"])
            .prop_map(str::to_owned),
    ];
    let separator = proptest::sample::select(vec!["://", "://", "://", ":", ":/", ":///"]);
    let suffix = proptest::sample::select(vec![
        "",
        "",
        "#token",
        "?kv=1#k",
        "?kv=2&version=3#k",
        "?version=0#k",
        "?store=keyutils",
        "?store=secret-service",
        "?store=x",
        "%2F",
        "%ff",
        "%",
        "#",
        "?",
    ]);
    (scheme, separator, reference_text(), suffix)
        .prop_map(|(scheme, sep, body, suffix)| format!("{scheme}{sep}{body}{suffix}"))
}

/// Text of the given characters plus letters, digits and a few multi-byte
/// characters, at least `min` long.
fn text_of(extra: &'static [char], min: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            6 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9'].into()),
            2 => proptest::sample::select(extra),
            1 => proptest::sample::select(vec!['é', '日', '\u{1f511}', '\u{a0}']),
        ],
        min..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// References that parse, in every shape the grammar allows: extra
/// slashes, options in any order and repeated, percent escapes, `#` in a
/// key, `/` in a keyring user, odd file paths.
fn valid_reference() -> impl Strategy<Value = String> {
    let segment = || text_of(&['.', '_', '-', '@', ':', '=', '&', '%', ' ', '~', '+'], 1);
    let slashes = || proptest::sample::select(vec!["", "", "/", "//"]);
    let option = prop_oneof![
        proptest::sample::select(vec!["kv=1", "kv=2"]).prop_map(str::to_owned),
        (
            1u64..=u64::MAX,
            proptest::sample::select(vec!["", "0", "+"])
        )
            .prop_map(|(n, lead)| format!("version={lead}{n}")),
    ];
    let query = proptest::collection::vec(option, 0..3).prop_map(|options| {
        if options.is_empty() {
            String::new()
        } else {
            format!("?{}", options.join("&"))
        }
    });
    let vault = (
        slashes(),
        segment(),
        proptest::collection::vec(segment(), 1..4),
        slashes(),
        query,
        text_of(&['#', '/', '.', '_', '-', '&', '=', ' '], 1),
    )
        .prop_map(|(lead, mount, path, trail, query, key)| {
            format!(
                "vault://{lead}{mount}/{}{trail}{query}#{key}",
                path.join("/")
            )
        });
    let env = "[A-Za-z_][A-Za-z0-9_]{0,20}".prop_map(|name| format!("env://{name}"));
    let escape = proptest::sample::select(vec![
        "%2F", "%3f", "%25", "%23", "%20", "%C3%A9", "%00", "%7", "%", "%zz", "%C2%85",
    ]);
    let keyring_part = |extra: &'static [char]| {
        proptest::collection::vec(
            prop_oneof![3 => text_of(extra, 1), 1 => escape.clone().prop_map(str::to_owned)],
            1..4,
        )
        .prop_map(|parts| parts.concat())
    };
    let store = proptest::sample::select(vec![
        "",
        "",
        "?store=keyutils",
        "?store=secret-service",
        "?store=keyutils&store=secret-service",
    ]);
    let keyring = (
        keyring_part(&['.', '_', '-', '@', '#', ' ', '&', '=', '+']),
        keyring_part(&['.', '_', '-', '@', '#', ' ', '/', '&', '=']),
        store,
    )
        .prop_map(|(service, user, store)| format!("keyring://{service}/{user}{store}"));
    let file = text_of(&['/', '.', '~', '#', '?', '%', ' ', '\\', ':'], 1)
        .prop_map(|path| format!("file://{path}"));
    prop_oneof![vault, env, keyring, file]
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => valid_reference(),
        2 => near_reference(),
        1 => any::<String>(),
        1 => reference_text(),
    ]
}

/// The echoed reference and the caret line of a rendered error, when it
/// shows one: `(shown, caret column)`.
fn caret(rendered: &str) -> Option<(&str, usize)> {
    let lines: Vec<&str> = rendered.lines().collect();
    match lines.as_slice() {
        [_reason] => None,
        [_reason, shown, caret] => {
            let shown = shown.strip_prefix("  ")?;
            let pad = caret.strip_prefix("  ")?.strip_suffix('^')?;
            assert!(
                pad.chars().all(|c| c == ' '),
                "caret line is not spaces and a caret: {caret:?}"
            );
            Some((shown, pad.len()))
        }
        _ => panic!("an error renders as one line or three, got {rendered:?}"),
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Parsing never panics; a rendered error is the reason alone or the
    /// reason, the reference on one line and a caret within it (at most one
    /// past its end, where a missing part goes).
    #[test]
    fn errors_render_a_caret_within_the_input(input in any_input()) {
        if let Err(error) = SecretRef::parse(&input) {
            let rendered = error.to_string();
            prop_assert!(rendered.starts_with("invalid secret reference: "), "{rendered}");
            if let Some((shown, column)) = caret(&rendered) {
                prop_assert!(
                    column <= shown.chars().count(),
                    "caret at {column} beyond {shown:?} ({input:?})"
                );
            }
            let _ = error.expected_form();
        }
    }

    /// Whatever parses renders to a reference that parses to the same value,
    /// and rendering is stable from then on.
    #[test]
    fn display_round_trips(input in any_input()) {
        if let Ok(reference) = SecretRef::parse(&input) {
            let shown = reference.to_string();
            let again = SecretRef::parse(&shown);
            prop_assert_eq!(again.as_ref(), Ok(&reference), "{:?} rendered as {:?}", input, shown);
            prop_assert_eq!(again.map(|r| r.to_string()).ok(), Some(shown));
        }
    }

    /// A value pasted where a reference is expected is never echoed: not
    /// alone, not after junk, not behind an unknown scheme. Only what
    /// starts like a known scheme (`vault:`) is a reference with a typo and
    /// is shown; an unknown scheme itself is shown.
    #[test]
    fn errors_never_echo_a_value(
        prefix in proptest::sample::select(vec![
            "", "", " ", "Bearer ", "token=", "x:", "https://__token__:", "s3://bucket/",
            "ftp://", "https://user@host/?sig=", "://", "a b://", "VAULT://", "vault ://",
        ]),
        secret in "[A-Za-z0-9][A-Za-z0-9_+/=-]{15,40}",
        suffix in proptest::sample::select(vec!["", "", "\n", "@pypi.org/simple", "#k", "?a=b://x"]),
    ) {
        let input = format!("{prefix}{secret}{suffix}");
        let typo = SCHEMES.iter().any(|s| input.starts_with(&format!("{s}:")));
        // A URL scheme (letters, digits, `+-.`) is shown when unknown.
        let is_scheme = input.split_once("://").is_some_and(|(scheme, _)| {
            scheme.contains(&secret)
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        prop_assume!(!typo && !is_scheme);
        if let Err(error) = SecretRef::parse(&input) {
            let rendered = error.to_string();
            prop_assert!(!rendered.contains(&secret), "{input:?} echoed: {rendered}");
        }
    }
}
