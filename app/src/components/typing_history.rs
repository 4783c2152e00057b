use leptos::prelude::*;

/// Search boxes navigate as you type. The first keystroke after the box gets the focus adds a
/// history entry and the following ones replace it, so Back returns to the list as it was before
/// this bout of typing (not to every intermediate letter).
#[derive(Clone, Copy)]
pub struct TypingHistory(StoredValue<bool>);

impl TypingHistory {
    pub fn new() -> TypingHistory {
        TypingHistory(StoredValue::new(false))
    }

    /// Whether this navigation replaces the current entry.
    pub fn replace(&self) -> bool {
        let typing = self.0.get_value();
        self.0.set_value(true);
        typing
    }

    /// The box got the focus again: the next keystroke starts a new entry.
    pub fn restart(&self) {
        self.0.set_value(false);
    }
}

impl Default for TypingHistory {
    fn default() -> Self {
        TypingHistory::new()
    }
}
