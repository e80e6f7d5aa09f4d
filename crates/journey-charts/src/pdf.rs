//! The progress report as a PDF, made on the server (krilla; no browser): the same
//! sentences, charts (the SVG of the page, drawn as vectors by krilla-svg) and tables as the
//! HTML report, on A4 or Letter pages. The text is DejaVu Sans (fonts/), embedded and
//! subset, so it can be searched and copied; every page says what the document is and that
//! it is confidential.
//!
//! Layout is two passes: [`Layout`] places items on pages (measuring text with ab_glyph and
//! breaking lines between words), then [`render`] draws them, once the page count is known.

use ab_glyph::Font as _;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::Document;
use krilla_svg::{SurfaceExt, SvgSettings};

use crate::ChartError;

/// The paper a PDF is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    A4,
    Letter,
}

impl Paper {
    /// Width and height in points (1/72 inch).
    pub fn size(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.28, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }

    pub fn parse(text: &str) -> Option<Paper> {
        match text.to_ascii_lowercase().as_str() {
            "a4" => Some(Paper::A4),
            "letter" => Some(Paper::Letter),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::Letter => "letter",
        }
    }
}

const MARGIN: f32 = 48.0;
const FOOTER: f32 = 28.0;
const BODY: f32 = 9.5;
const SMALL: f32 = 7.5;
/// The size of a section's heading.
pub const HEADING: f32 = 13.0;
const LEADING: f32 = 1.35;

/// Something drawn on a page, at top-left coordinates in points.
enum Item {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        grey: bool,
        text: String,
    },
    Svg {
        svg: usize,
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
    Rule {
        x: f32,
        y: f32,
        width: f32,
    },
}

/// A cell of a table row.
pub struct Cell {
    pub text: String,
    pub right: bool,
}

/// Pages being laid out, top to bottom.
pub struct Layout {
    paper: Paper,
    measure: ab_glyph::FontRef<'static>,
    pages: Vec<Vec<Item>>,
    y: f32,
    svgs: Vec<usvg::Tree>,
    options: usvg::Options<'static>,
}

impl Layout {
    pub fn new(paper: Paper) -> Result<Layout, ChartError> {
        let measure = ab_glyph::FontRef::try_from_slice(crate::FONT)
            .map_err(|e| ChartError::Draw(format!("the shipped font: {e}")))?;
        let mut fonts = usvg::fontdb::Database::new();
        fonts.load_font_data(crate::FONT.to_vec());
        fonts.set_sans_serif_family("DejaVu Sans");
        let options = usvg::Options {
            font_family: "DejaVu Sans".into(),
            fontdb: std::sync::Arc::new(fonts),
            ..usvg::Options::default()
        };
        Ok(Layout {
            paper,
            measure,
            pages: vec![Vec::new()],
            y: MARGIN,
            svgs: Vec::new(),
            options,
        })
    }

    fn width(&self) -> f32 {
        self.paper.size().0 - 2.0 * MARGIN
    }

    fn bottom(&self) -> f32 {
        self.paper.size().1 - MARGIN - FOOTER
    }

    /// The width of `text` at `size` points.
    pub fn text_width(&self, text: &str, size: f32) -> f32 {
        let per_em = self.measure.units_per_em().unwrap_or(2048.0);
        let units: f32 = text
            .chars()
            .map(|c| self.measure.h_advance_unscaled(self.measure.glyph_id(c)))
            .sum();
        units / per_em * size
    }

    /// `text` broken into lines of at most `width` points (between words; a word longer
    /// than a line stands alone).
    pub fn lines(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && self.text_width(&candidate, size) > width {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn page(&mut self) -> &mut Vec<Item> {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > self.bottom() && self.y > MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn line(&mut self, x: f32, text: String, size: f32, grey: bool) {
        self.room(size * LEADING);
        let baseline = self.y + size;
        self.page().push(Item::Text {
            x,
            baseline,
            size,
            grey,
            text,
        });
        self.y += size * LEADING;
    }

    /// A heading: kept with at least a few lines of what follows it.
    pub fn heading(&mut self, text: &str, size: f32) {
        self.room(size * 2.0 + 4.0 * BODY * LEADING);
        self.y += size * 0.6;
        self.line(MARGIN, text.to_string(), size, false);
        self.y += size * 0.2;
    }

    /// A paragraph, wrapped to the page's width (with `bullet`, indented after a dash).
    pub fn paragraph(&mut self, text: &str, size: f32, bullet: bool, grey: bool) {
        let indent = if bullet { 10.0 } else { 0.0 };
        let lines = self.lines(text, size, self.width() - indent);
        for (n, line) in lines.into_iter().enumerate() {
            if bullet && n == 0 {
                self.room(size * LEADING);
                let baseline = self.y + size;
                self.page().push(Item::Text {
                    x: MARGIN,
                    baseline,
                    size,
                    grey,
                    text: "–".into(),
                });
            }
            self.line(MARGIN + indent, line, size, grey);
        }
        self.y += size * 0.4;
    }

    /// A chart (an SVG document) under `heading` (if any, kept on the chart's page), as
    /// wide as `share` of the page or as tall as fits one, with its caption under it.
    pub fn chart(
        &mut self,
        heading: Option<&str>,
        svg: &str,
        share: f32,
        caption: &str,
    ) -> Result<(), ChartError> {
        let tree = usvg::Tree::from_str(svg, &self.options)
            .map_err(|e| ChartError::Draw(format!("a chart's SVG: {e}")))?;
        let (w, h) = (tree.size().width(), tree.size().height());
        let caption_lines = self.lines(caption, SMALL, self.width()).len() as f32;
        let caption_height = caption_lines * SMALL * LEADING + 6.0;
        let heading_height = heading.map_or(0.0, |_| HEADING * (1.0 + LEADING));
        let most = self.bottom() - MARGIN - caption_height - heading_height;
        let scale = (self.width() * share / w).min(most / h);
        let (width, height) = (w * scale, h * scale);
        self.room(heading_height + height + caption_height);
        if let Some(text) = heading {
            self.heading(text, HEADING);
        }
        let svg = self.svgs.len();
        self.svgs.push(tree);
        let (x, y) = (MARGIN, self.y);
        self.page().push(Item::Svg {
            svg,
            x,
            y,
            width,
            height,
        });
        self.y += height + 4.0;
        self.paragraph(caption, SMALL, false, true);
        Ok(())
    }

    /// A table: `widths` are shares of the page's width; the header row is repeated on
    /// every page the table runs onto.
    pub fn table(&mut self, header: &[&str], widths: &[f32], rows: &[Vec<Cell>]) {
        let total: f32 = widths.iter().sum();
        let columns: Vec<f32> = widths.iter().map(|w| w / total * self.width()).collect();
        let row_height = SMALL * LEADING + 2.0;
        let head = |layout: &mut Layout| {
            let mut x = MARGIN;
            let baseline = layout.y + SMALL;
            for (title, width) in header.iter().zip(&columns) {
                let text = title.to_string();
                layout.page().push(Item::Text {
                    x,
                    baseline,
                    size: SMALL,
                    grey: true,
                    text,
                });
                x += width;
            }
            layout.y += row_height;
            let (y, width) = (layout.y - 1.0, layout.width());
            layout.page().push(Item::Rule {
                x: MARGIN,
                y,
                width,
            });
        };
        self.room(row_height * 3.0);
        head(self);
        for row in rows {
            let before = self.pages.len();
            self.room(row_height);
            if self.pages.len() != before {
                head(self);
            }
            let mut x = MARGIN;
            let baseline = self.y + SMALL;
            for (cell, width) in row.iter().zip(&columns) {
                let shift = if cell.right {
                    width - 4.0 - self.text_width(&cell.text, SMALL)
                } else {
                    0.0
                };
                let text = cell.text.clone();
                self.page().push(Item::Text {
                    x: x + shift,
                    baseline,
                    size: SMALL,
                    grey: false,
                    text,
                });
                x += width;
            }
            self.y += row_height;
        }
        self.y += BODY * 0.6;
    }

    /// Draws every page with `footer(page, pages)` at its foot; the PDF's bytes.
    pub fn render(
        self,
        title: &str,
        footer: impl Fn(usize, usize) -> String,
    ) -> Result<Vec<u8>, ChartError> {
        let font = Font::new(crate::FONT.to_vec().into(), 0)
            .ok_or_else(|| ChartError::Draw("the shipped font does not load".into()))?;
        let (page_width, page_height) = self.paper.size();
        let mut document = Document::new();
        document.set_metadata(
            Metadata::new()
                .title(title.to_string())
                .creator("journey".into())
                .language("en".into()),
        );
        let pages = self.pages.len();
        let black = fill(0x1a);
        let grey = fill(0x55);
        for (n, items) in self.pages.iter().enumerate() {
            let settings = PageSettings::from_wh(page_width, page_height)
                .ok_or_else(|| ChartError::Draw("page size".into()))?;
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            let footer_line = footer(n + 1, pages);
            let foot = Item::Text {
                x: MARGIN,
                baseline: page_height - MARGIN + SMALL,
                size: SMALL,
                grey: true,
                text: footer_line,
            };
            for item in items.iter().chain(std::iter::once(&foot)) {
                match item {
                    Item::Text {
                        x,
                        baseline,
                        size,
                        grey: is_grey,
                        text,
                    } => {
                        surface.set_fill(Some(if *is_grey {
                            grey.clone()
                        } else {
                            black.clone()
                        }));
                        surface.draw_text(
                            Point::from_xy(*x, *baseline),
                            font.clone(),
                            *size,
                            text,
                            false,
                            TextDirection::Auto,
                        );
                    }
                    Item::Svg {
                        svg,
                        x,
                        y,
                        width,
                        height,
                    } => {
                        let size = Size::from_wh(*width, *height)
                            .ok_or_else(|| ChartError::Draw("chart size".into()))?;
                        surface.push_transform(&Transform::from_translate(*x, *y));
                        surface
                            .draw_svg(&self.svgs[*svg], size, SvgSettings::default())
                            .ok_or_else(|| ChartError::Draw("a chart could not be drawn".into()))?;
                        surface.pop();
                    }
                    Item::Rule { x, y, width } => {
                        let mut path = PathBuilder::new();
                        path.move_to(*x, *y);
                        path.line_to(x + width, *y);
                        if let Some(path) = path.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                paint: rgb::Color::new(0x99, 0x99, 0x99).into(),
                                width: 0.5,
                                ..Stroke::default()
                            }));
                            surface.draw_path(&path);
                            surface.set_stroke(None);
                        }
                    }
                }
            }
            surface.finish();
            page.finish();
        }
        document
            .finish()
            .map_err(|e| ChartError::Draw(format!("the PDF: {e:?}")))
    }
}

fn fill(level: u8) -> Fill {
    Fill {
        paint: rgb::Color::new(level, level, level).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_between_words_within_the_width() {
        let layout = Layout::new(Paper::A4).unwrap();
        let text = "Use or no use was reported for 120 of the 200 days (60% coverage). Days nobody reported on are counted as unknown.";
        let lines = layout.lines(text, BODY, 200.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(
            lines.iter().all(|l| layout.text_width(l, BODY) <= 200.0),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), text);
        assert!(layout.text_width("mmmm", 10.0) > layout.text_width("iiii", 10.0));
    }

    #[test]
    fn a_long_table_repeats_its_header_on_the_next_page() {
        let mut layout = Layout::new(Paper::Letter).unwrap();
        let rows: Vec<Vec<Cell>> = (0..200)
            .map(|n| {
                vec![Cell {
                    text: n.to_string(),
                    right: true,
                }]
            })
            .collect();
        layout.table(&["week"], &[1.0], &rows);
        assert!(layout.pages.len() >= 3);
        for page in &layout.pages {
            let first = page.iter().find_map(|item| match item {
                Item::Text { text, .. } => Some(text.as_str()),
                _ => None,
            });
            assert_eq!(first, Some("week"));
        }
        let pdf = layout
            .render("t", |n, of| format!("page {n} of {of}"))
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
