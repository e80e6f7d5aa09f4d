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

fn frame(table: &Table) -> Result<DataFrame, AnalyticsError> {
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
    DataFrame::new_infer_height(columns).map_err(polars_error)
}

/// Writes `table` as `<dir>/<name>.parquet` and `<dir>/<name>.csv` (header row, UTF-8);
/// returns the two paths.
pub fn write_table(table: &Table, dir: &Path) -> Result<[PathBuf; 2], AnalyticsError> {
    let mut frame = frame(table)?;
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

/// A table written as it is computed, a chunk at a time: `<dir>/<name>/part-NNNNN.parquet`
/// (each part at most `part_rows` rows; a folder that pandas, DuckDB, Spark and pyarrow read
/// as one table) and one `<dir>/<name>.csv` (header row once). Only the chunk being written
/// is held.
pub struct TableWriter {
    name: String,
    dir: PathBuf,
    part_rows: usize,
    csv: Option<File>,
    csv_path: PathBuf,
    parts: Vec<PathBuf>,
    rows: usize,
    empty: Option<Table>,
}

impl TableWriter {
    /// Starts the table `name` in `dir` (its folder is created).
    pub fn new(dir: &Path, name: &str, part_rows: usize) -> Result<TableWriter, AnalyticsError> {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        Ok(TableWriter {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            part_rows: part_rows.max(1),
            csv: None,
            csv_path: dir.join(format!("{name}.csv")),
            parts: Vec::new(),
            rows: 0,
            empty: None,
        })
    }

    fn part(&mut self, frame: &mut DataFrame) -> Result<(), AnalyticsError> {
        let path = self
            .dir
            .join(&self.name)
            .join(format!("part-{:05}.parquet", self.parts.len()));
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        ParquetWriter::new(file)
            .finish(frame)
            .map_err(polars_error)?;
        self.parts.push(path);
        Ok(())
    }

    /// Appends the rows of `chunk` (its columns are the table's, in the same order).
    pub fn append(&mut self, chunk: &Table) -> Result<(), AnalyticsError> {
        let mut frame = frame(chunk)?;
        if self.empty.is_none() {
            // Kept with no rows: the schema of an empty part if nothing is ever appended.
            let mut empty = chunk.clone();
            for (_, values) in &mut empty.columns {
                match values {
                    Values::Text(v) => v.clear(),
                    Values::Int(v) => v.clear(),
                    Values::Float(v) => v.clear(),
                    Values::Bool(v) => v.clear(),
                }
            }
            self.empty = Some(empty);
        }
        let first = self.csv.is_none();
        if first {
            let file = File::create(&self.csv_path).map_err(|e| io_error(&self.csv_path, e))?;
            self.csv = Some(file);
        }
        let csv = self.csv.as_mut().expect("opened above");
        CsvWriter::new(csv)
            .include_header(first)
            .finish(&mut frame)
            .map_err(polars_error)?;
        let height = frame.height();
        let mut offset = 0;
        while offset < height {
            let len = self.part_rows.min(height - offset);
            let mut part = frame.slice(offset as i64, len);
            self.part(&mut part)?;
            offset += len;
        }
        self.rows += height;
        Ok(())
    }

    /// The table's columns (name, Table Schema type), as the first chunk gave them.
    pub fn columns(&self) -> Vec<(String, &'static str)> {
        self.empty.as_ref().map_or_else(Vec::new, |t| {
            t.columns
                .iter()
                .map(|(name, values)| (name.clone(), values.schema_type()))
                .collect()
        })
    }

    /// Closes the table: (its Parquet parts, its CSV, its rows). A table with no row still
    /// has one part (with the schema) and a CSV with the header.
    pub fn finish(mut self) -> Result<(Vec<PathBuf>, PathBuf, usize), AnalyticsError> {
        if self.parts.is_empty() {
            let empty = self.empty.take().ok_or_else(|| {
                AnalyticsError::Polars(format!("table {}: no chunk was given", self.name))
            })?;
            let mut frame = frame(&empty)?;
            self.part(&mut frame)?;
            if self.csv.is_none() {
                let file = File::create(&self.csv_path).map_err(|e| io_error(&self.csv_path, e))?;
                CsvWriter::new(file)
                    .include_header(true)
                    .finish(&mut frame)
                    .map_err(polars_error)?;
            }
        }
        Ok((self.parts, self.csv_path, self.rows))
    }
}
