//! Request values that carry a rule, parsed once into domain values: handlers extract, parse, then make one service
//! call. The rules are the ones docs/api.md lists for each field.

use tabletalk_ports::ConversationId;

/// A value that breaks its field's rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: &'static str,
}

const fn invalid(field: &'static str, message: &'static str) -> InvalidInput {
    InvalidInput { field, message }
}

/// A chat message: 1 to 10,000 characters, at least one of them not whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.trim().is_empty() || text.chars().count() > Self::MAX_CHARS {
            return Err(invalid(
                "content",
                "must be 1 to 10000 characters with at least one that is not whitespace",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One SQL statement's text: 1 to 50,000 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlText(String);

impl SqlText {
    pub const MAX_CHARS: usize = 50_000;

    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.trim().is_empty() || text.chars().count() > Self::MAX_CHARS {
            return Err(invalid("sql", "must be 1 to 50000 characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The conversations a bulk action names: 1 to 50 ids. Ids that are not ids at all name nothing and are skipped,
/// like unknown ones; repeats count once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationIds(Vec<ConversationId>);

impl ConversationIds {
    pub const MAX: usize = 50;

    pub fn parse(ids: &[String]) -> Result<Self, InvalidInput> {
        if ids.is_empty() || ids.len() > Self::MAX {
            return Err(invalid("ids", "Provide 1-50 conversation IDs"));
        }
        let mut parsed: Vec<ConversationId> = Vec::new();
        for id in ids.iter().filter_map(|id| id.parse().ok()) {
            if !parsed.contains(&id) {
                parsed.push(id);
            }
        }
        Ok(Self(parsed))
    }

    pub fn as_slice(&self) -> &[ConversationId] {
        &self.0
    }
}

/// Which page of a result to return: page numbers start at 1, pages hold 1 to 1,000 rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    number: u64,
    size: u64,
}

impl Page {
    /// `page` and `page_size` as given, defaulting to the first page of 100 rows.
    pub fn parse(page: Option<i64>, page_size: Option<i64>) -> Result<Self, InvalidInput> {
        let number = u64::try_from(page.unwrap_or(1))
            .ok()
            .filter(|n| *n >= 1)
            .ok_or(invalid("page", "must be at least 1"))?;
        let size = u64::try_from(page_size.unwrap_or(100))
            .ok()
            .filter(|s| (1..=1000).contains(s))
            .ok_or(invalid("page_size", "must be from 1 to 1000"))?;
        Ok(Self { number, size })
    }

    pub const fn number(self) -> u64 {
        self.number
    }

    pub const fn size(self) -> u64 {
        self.size
    }

    /// The rows of this page out of `rows`.
    pub fn slice<T>(self, rows: Vec<T>) -> Vec<T> {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        let start = usize::try_from(self.number - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(size);
        rows.into_iter().skip(start).take(size).collect()
    }

    /// Pages needed for `rows` rows (at least one, even when empty).
    pub fn count(self, rows: u64) -> u64 {
        rows.div_ceil(self.size).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_need_substance_and_a_bounded_length() {
        assert!(MessageText::parse("hi").is_ok());
        assert_eq!(MessageText::parse(" \n ").unwrap_err().field, "content");
        assert!(MessageText::parse(&"é".repeat(10_000)).is_ok());
        assert!(MessageText::parse(&"é".repeat(10_001)).is_err());
        assert_eq!(SqlText::parse("").unwrap_err().field, "sql");
        assert!(SqlText::parse(&"x".repeat(50_001)).is_err());
    }

    #[test]
    fn pages_slice_and_count() {
        assert_eq!(Page::parse(Some(0), None).unwrap_err().field, "page");
        assert_eq!(
            Page::parse(None, Some(1001)).unwrap_err().field,
            "page_size"
        );
        let page = Page::parse(Some(2), Some(3)).unwrap();
        assert_eq!(page.slice((1..=8).collect()), vec![4, 5, 6]);
        assert_eq!(page.count(8), 3);
        assert_eq!(page.count(0), 1);
        assert!(
            Page::parse(Some(9), Some(3))
                .unwrap()
                .slice(vec![1])
                .is_empty()
        );
    }
}
