//! Export tables: plain columns in, Parquet and CSV files out (polars writes both).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::AnalyticsError;

/// The values of one column; `None` is a missing value (empty in CSV, null in Parquet).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl Values {
    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    /// The Frictionless Table Schema type of the column.
    pub fn schema_type(&self) -> &'static str {
        match self {
            Values::Text(_) => "string",
            Values::Int(_) => "integer",
            Values::Float(_) => "number",
            Values::Bool(_) => "boolean",
        }
    }
}

/// A table of named columns of equal length.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<(String, Values)>,
}

impl Table {
    /// Number of rows (of the first column).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, v)| v.len())
    }
}

fn polars_error(err: PolarsError) -> AnalyticsError {
    AnalyticsError::Polars(err.to_string())
}

fn io_error(path: &Path, err: std::io::Error) -> AnalyticsError {
    AnalyticsError::Polars(format!("{}: {err}", path.display()))
}

/// Writes `table` as `<dir>/<name>.parquet` and `<dir>/<name>.csv` (header row, UTF-8);
/// returns the two paths.
pub fn write_table(table: &Table, dir: &Path) -> Result<[PathBuf; 2], AnalyticsError> {
    let rows = table.rows();
    if let Some((name, _)) = table.columns.iter().find(|(_, v)| v.len() != rows) {
        return Err(AnalyticsError::Polars(format!(
            "table {}: column {name} has another length",
            table.name
        )));
    }
    let columns: Vec<Column> = table
        .columns
        .iter()
        .map(|(name, values)| {
            let name: PlSmallStr = name.as_str().into();
            match values {
                Values::Text(v) => Column::new(name, v),
                Values::Int(v) => Column::new(name, v),
                Values::Float(v) => Column::new(name, v),
                Values::Bool(v) => Column::new(name, v),
            }
        })
        .collect();
    let mut frame = DataFrame::new_infer_height(columns).map_err(polars_error)?;
    let parquet = dir.join(format!("{}.parquet", table.name));
    let file = File::create(&parquet).map_err(|e| io_error(&parquet, e))?;
    // Text columns are stored as UTF-8 byte arrays; polars records them as Arrow
    // `string_view` in the file's Arrow schema (read by pyarrow, pandas, R arrow >= 15,
    // DuckDB, polars).
    ParquetWriter::new(file)
        .finish(&mut frame)
        .map_err(polars_error)?;
    let csv = dir.join(format!("{}.csv", table.name));
    let file = File::create(&csv).map_err(|e| io_error(&csv, e))?;
    CsvWriter::new(file)
        .include_header(true)
        .finish(&mut frame)
        .map_err(polars_error)?;
    Ok([parquet, csv])
}
