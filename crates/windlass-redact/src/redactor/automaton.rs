//! An Aho-Corasick automaton fed one byte at a time.
//!
//! The `aho-corasick` crate finds matches quickly but cannot say, in the
//! middle of a stream, how much of the text seen so far may still grow into
//! a match. The streaming writer needs exactly that to hold back no more
//! than it must, so this small automaton keeps, for every state, the length
//! of the longest pattern ending there and the length of the longest suffix
//! that is still a proper prefix of some pattern.

/// A state of the automaton; [`START`] is the empty match.
pub(super) type State = usize;

/// The state before any byte, and after bytes that start no pattern.
pub(super) const START: State = 0;

pub(super) struct Automaton {
    /// Transitions out of the start state, one per byte value.
    root: Box<[State; 256]>,
    /// The children of state `s` are `child_bytes[first[s]..first[s + 1]]`
    /// (sorted) with targets at the same indices in `child_states`.
    first: Vec<usize>,
    child_bytes: Vec<u8>,
    child_states: Vec<State>,
    /// The longest proper suffix of a state's string that is also a state.
    fail: Vec<State>,
    /// Length of the longest pattern that is a suffix of the state's string
    /// (0: none).
    matched: Vec<usize>,
    /// Length of the longest suffix of the state's string that some pattern
    /// continues (0: none): the text a stream must still hold back.
    open: Vec<usize>,
    max_len: usize,
}

impl Automaton {
    /// Builds the automaton of `patterns` (empty patterns are ignored).
    pub(super) fn new<'a>(patterns: impl IntoIterator<Item = &'a [u8]>) -> Self {
        // The trie, with sorted children.
        let mut children: Vec<Vec<(u8, State)>> = vec![Vec::new()];
        let mut depth = vec![0usize];
        let mut terminal = vec![false];
        for pattern in patterns {
            if pattern.is_empty() {
                continue;
            }
            let mut state = START;
            for &byte in pattern {
                state = match children[state].binary_search_by_key(&byte, |&(b, _)| b) {
                    Ok(i) => children[state][i].1,
                    Err(i) => {
                        let next = children.len();
                        children[state].insert(i, (byte, next));
                        children.push(Vec::new());
                        depth.push(depth[state] + 1);
                        terminal.push(false);
                        next
                    }
                };
            }
            terminal[state] = true;
        }

        // Failure links and the per-state lengths, breadth first so that a
        // state's failure target is always done before the state.
        let count = children.len();
        let mut fail = vec![START; count];
        let mut matched = vec![0; count];
        let mut open = vec![0; count];
        let mut queue = std::collections::VecDeque::from([START]);
        while let Some(state) = queue.pop_front() {
            open[state] = if children[state].is_empty() {
                open[fail[state]]
            } else {
                depth[state]
            };
            for &(byte, child) in &children[state] {
                fail[child] = if state == START {
                    START
                } else {
                    let mut f = fail[state];
                    loop {
                        if let Ok(i) = children[f].binary_search_by_key(&byte, |&(b, _)| b) {
                            break children[f][i].1;
                        }
                        if f == START {
                            break START;
                        }
                        f = fail[f];
                    }
                };
                matched[child] = if terminal[child] {
                    depth[child]
                } else {
                    matched[fail[child]]
                };
                queue.push_back(child);
            }
        }

        let mut root = Box::new([START; 256]);
        for &(byte, child) in &children[START] {
            root[usize::from(byte)] = child;
        }
        let mut first = Vec::with_capacity(count + 1);
        let mut child_bytes = Vec::with_capacity(count);
        let mut child_states = Vec::with_capacity(count);
        for edges in &children {
            first.push(child_bytes.len());
            for &(byte, child) in edges {
                child_bytes.push(byte);
                child_states.push(child);
            }
        }
        first.push(child_bytes.len());
        let max_len = depth
            .iter()
            .zip(&terminal)
            .filter(|(_, t)| **t)
            .map(|(d, _)| *d)
            .max()
            .unwrap_or(0);
        Self {
            root,
            first,
            child_bytes,
            child_states,
            fail,
            matched,
            open,
            max_len,
        }
    }

    /// Length of the longest pattern.
    pub(super) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The state after `byte`.
    pub(super) fn next(&self, mut state: State, byte: u8) -> State {
        loop {
            if state == START {
                return self.root[usize::from(byte)];
            }
            let range = self.first[state]..self.first[state + 1];
            let bytes = &self.child_bytes[range.clone()];
            if let Ok(i) = bytes.binary_search(&byte) {
                return self.child_states[range.start + i];
            }
            state = self.fail[state];
        }
    }

    /// Length of the longest pattern ending with the last byte (0: none).
    /// Every shorter pattern ending there lies inside it.
    pub(super) fn matched(&self, state: State) -> usize {
        self.matched[state]
    }

    /// How many of the last bytes some pattern may still continue.
    pub(super) fn open(&self, state: State) -> usize {
        self.open[state]
    }
}

#[cfg(test)]
mod tests {
    use super::{Automaton, START};

    /// Feeds `text` and reports, after each byte, (matched, open).
    fn run(patterns: &[&str], text: &str) -> Vec<(usize, usize)> {
        let a = Automaton::new(patterns.iter().map(|p| p.as_bytes()));
        let mut state = START;
        text.bytes()
            .map(|b| {
                state = a.next(state, b);
                (a.matched(state), a.open(state))
            })
            .collect()
    }

    #[test]
    fn lengths_after_each_byte() {
        let cases = [
            (
                vec!["abcd"],
                "xabcdx",
                vec![(0, 0), (0, 1), (0, 2), (0, 3), (4, 0), (0, 0)],
            ),
            // A match that a longer pattern may continue stays open.
            (vec!["ab", "abcd"], "abc", vec![(0, 1), (2, 2), (0, 3)]),
            // The longest pattern ending here, found through failure links.
            (vec!["bc", "xabc"], "abc", vec![(0, 0), (0, 1), (2, 0)]),
            // Overlapping occurrences of one pattern.
            (vec!["aa"], "aaa", vec![(0, 1), (2, 1), (2, 1)]),
            (vec![""], "abc", vec![(0, 0), (0, 0), (0, 0)]),
        ];
        for (patterns, text, expected) in cases {
            assert_eq!(run(&patterns, text), expected, "{patterns:?} in {text:?}");
        }
    }
}
