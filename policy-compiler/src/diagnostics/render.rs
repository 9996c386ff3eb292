//! The human rendering of diagnostics for miette's report handlers (the CLI draws them).

use std::fmt;
use std::path::Path;

use gatehouse_engine::escape::for_terminal;
use miette::{LabeledSpan, NamedSource, SourceCode};

use super::{Diagnostic, Place};

/// The human rendering of a [`Diagnostic`] for miette's report handlers: the message as the
/// headline, the code, the primary span and same-file labels drawn on the snippet, the help line
/// and labels in other files below it.
#[derive(Debug)]
pub struct Human<'a>(pub &'a Diagnostic);

impl fmt::Display for Human<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            for_terminal(&self.0.file.display().to_string()),
            self.0.line,
            self.0.column,
            for_terminal(&self.0.message)
        )
    }
}

impl std::error::Error for Human<'_> {}

impl miette::Diagnostic for Human<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        // Labels in other files cannot be drawn in this file's snippet: they join the help.
        let d = self.0;
        let elsewhere: Vec<String> = d
            .labels
            .iter()
            .filter_map(|l| {
                let file = l.file.as_ref()?;
                Some(format!(
                    "{}:{}:{}: {}",
                    for_terminal(&file.display().to_string()),
                    l.place.line,
                    l.place.column,
                    for_terminal(&l.message)
                ))
            })
            .collect();
        let help = d.help.as_deref().map(for_terminal);
        let text: Vec<String> = help
            .into_iter()
            .map(|h| h.into_owned())
            .chain(elsewhere)
            .collect();
        (!text.is_empty()).then(|| Box::new(text.join("\n")) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0
            .source_text
            .as_ref()
            .map(|_| self.0 as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.0;
        let primary = d.span_of(Place {
            line: d.line,
            column: d.column,
            end_line: d.end_line,
            end_column: d.end_column,
        })?;
        let secondary = d.labels.iter().filter_map(move |l| {
            if l.file.is_some() {
                return None;
            }
            let span = d.span_of(l.place)?;
            Some(LabeledSpan::new_with_span(
                Some(for_terminal(&l.message).into_owned()),
                span,
            ))
        });
        Some(Box::new(
            std::iter::once(LabeledSpan::new_primary_with_span(None, primary)).chain(secondary),
        ))
    }
}

/// The snippet source: the file's text under the file's name.
impl SourceCode for Diagnostic {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text: &'a str = self.source_text.as_deref().unwrap_or("");
        let contents = text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            for_terminal(&self.file.display().to_string()).into_owned(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// A [`NamedSource`] for rendering a whole file; convenience for the CLI.
pub fn named_source(file: &Path, text: &str) -> NamedSource<String> {
    NamedSource::new(file.display().to_string(), text.to_string())
}
