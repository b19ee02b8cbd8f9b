//! quantammsim's `<TICKER>_USD.parquet`, read with the parquet crate's
//! column readers (no arrow).
//!
//! quantammsim writes these with `DataFrame.to_parquet(engine="pyarrow")`:
//! snappy pages, a `unix` int64 column (or the pandas index stored as a column
//! named `unix`), `close` float64 and text/volume columns we ignore. We also
//! take `unix` as int32, float64 holding integers, or a timestamp of any unit,
//! and gzip-compressed files.

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use parquet::basic::{LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use crate::error::{DataError, Position};
use crate::series::{Series, SeriesBuilder, exact_i64};

const TIME_COLUMN: &str = "unix";
const VALUE_COLUMN: &str = "close";

pub(crate) fn read_parquet(path: &Path) -> Result<Series, DataError> {
    // The parquet crate is not hardened against every corrupt file (a flipped
    // byte in the footer can hit an unwrap); a panic inside it must still reach
    // the caller as an error on that file. The panic hook still prints it.
    catch_unwind(AssertUnwindSafe(|| read_parquet_inner(path))).unwrap_or_else(|_| {
        Err(DataError::format(
            path,
            "corrupt parquet file (the parquet reader failed on it)",
        ))
    })
}

fn pq_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> DataError + '_ {
    move |e| {
        // Keep the message on one line whatever the crate put in it.
        let text = e.to_string().replace(['\n', '\r'], " ");
        let text = text.strip_prefix("Parquet error: ").unwrap_or(&text);
        // The parquet crate reports codecs we compiled out only by this text.
        if let Some(codec) = text.strip_prefix("Disabled feature at compile time: ") {
            return DataError::format(
                path,
                format!(
                    "compressed with {codec}, which tfmm does not read (snappy, gzip or none; \
                     pandas: to_parquet(compression=\"snappy\"))"
                ),
            );
        }
        DataError::format(path, format!("cannot read parquet: {text}"))
    }
}

fn find_column(path: &Path, columns: &[(usize, String)], name: &str) -> Result<usize, DataError> {
    columns
        .iter()
        .find(|(_, n)| n == name)
        .map(|(i, _)| *i)
        .ok_or_else(|| {
            let names: Vec<&str> = columns.iter().map(|(_, n)| n.as_str()).collect();
            DataError::format(
                path,
                format!(
                    "has no `{name}` column (columns: {}; expected `unix` and `close`)",
                    names.join(", ")
                ),
            )
        })
}

/// Units of the stored `unix` values per millisecond; errors on types we
/// cannot read as a timestamp.
fn time_scale(path: &Path, col: &ColumnDescriptor) -> Result<i64, DataError> {
    match (col.physical_type(), col.logical_type_ref()) {
        (PhysicalType::INT64, Some(LogicalType::Timestamp(ts))) => Ok(match ts.unit {
            TimeUnit::MILLIS => 1,
            TimeUnit::MICROS => 1_000,
            TimeUnit::NANOS => 1_000_000,
        }),
        (PhysicalType::INT64 | PhysicalType::INT32 | PhysicalType::DOUBLE, _) => Ok(1),
        (other, _) => Err(DataError::format(
            path,
            format!(
                "column `unix` has type {other}; expected int64/int32 milliseconds, float64 or a timestamp"
            ),
        )),
    }
}

/// Reads one leaf column of a row group, refusing nulls.
fn read_leaf<T: DataType>(
    path: &Path,
    mut reader: ColumnReaderImpl<T>,
    rows: usize,
    max_def: i16,
    first_row: usize,
    name: &str,
) -> Result<Vec<T::T>, DataError> {
    // The row count comes from the file: trust it only as a hint, so a
    // corrupt count cannot request an absurd allocation.
    let hint = rows.min(1 << 20);
    let mut values = Vec::with_capacity(hint);
    let mut defs = Vec::with_capacity(if max_def > 0 { hint } else { 0 });
    let mut done = 0;
    while done < rows {
        let def_buf = (max_def > 0).then_some(&mut defs);
        let (records, _, _) = reader
            .read_records(rows - done, def_buf, None, &mut values)
            .map_err(pq_err(path))?;
        if records == 0 {
            return Err(DataError::format(
                path,
                format!(
                    "corrupt parquet file: column `{name}` ends after {} of the row group's {rows} rows",
                    done
                ),
            ));
        }
        done += records;
    }
    if let Some(i) = defs.iter().position(|&d| d < max_def) {
        return Err(DataError::malformed(
            path,
            Position::Row(first_row + i + 1),
            format!("`{name}` is null"),
        ));
    }
    if values.len() != rows {
        return Err(DataError::format(
            path,
            format!(
                "corrupt parquet file: column `{name}` has {} values for {rows} rows",
                values.len()
            ),
        ));
    }
    Ok(values)
}

fn read_parquet_inner(path: &Path) -> Result<Series, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(pq_err(path))?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let columns: Vec<(usize, String)> = (0..schema.num_columns())
        .filter_map(|i| {
            let col = schema.column(i);
            let parts = col.path().parts();
            (parts.len() == 1).then(|| (i, parts[0].clone()))
        })
        .collect();
    let t_idx = find_column(path, &columns, TIME_COLUMN)?;
    let v_idx = find_column(path, &columns, VALUE_COLUMN)?;
    let t_col = schema.column(t_idx);
    let v_col = schema.column(v_idx);
    for col in [&t_col, &v_col] {
        if col.max_rep_level() > 0 {
            return Err(DataError::format(
                path,
                format!(
                    "column `{}` is a repeated column; expected one value per row",
                    col.name()
                ),
            ));
        }
    }
    let per_ms = time_scale(path, &t_col)?;

    let mut builder = SeriesBuilder::new(path, TIME_COLUMN, VALUE_COLUMN, "price");
    builder.reserve(
        usize::try_from(meta.file_metadata().num_rows())
            .unwrap_or(0)
            .min(1 << 26),
    );
    let mut first_row = 0usize;
    for g in 0..meta.num_row_groups() {
        let group = reader.get_row_group(g).map_err(pq_err(path))?;
        let rows = usize::try_from(meta.row_group(g).num_rows()).map_err(|_| {
            DataError::format(
                path,
                format!("corrupt parquet file: row group {g} has a negative row count"),
            )
        })?;
        let times: Vec<Result<i64, String>> =
            match group.get_column_reader(t_idx).map_err(pq_err(path))? {
                ColumnReader::Int64ColumnReader(r) => {
                    read_leaf(path, r, rows, t_col.max_def_level(), first_row, TIME_COLUMN)?
                        .into_iter()
                        .map(|v| {
                            if v.rem_euclid(per_ms) == 0 {
                                Ok(v.div_euclid(per_ms))
                            } else {
                                Err(v.to_string())
                            }
                        })
                        .collect()
                }
                ColumnReader::Int32ColumnReader(r) => {
                    read_leaf(path, r, rows, t_col.max_def_level(), first_row, TIME_COLUMN)?
                        .into_iter()
                        .map(|v| Ok(i64::from(v)))
                        .collect()
                }
                ColumnReader::DoubleColumnReader(r) => {
                    read_leaf(path, r, rows, t_col.max_def_level(), first_row, TIME_COLUMN)?
                        .into_iter()
                        .map(|v| exact_i64(v).ok_or_else(|| v.to_string()))
                        .collect()
                }
                _ => {
                    return Err(DataError::format(
                        path,
                        format!("column `unix` has type {}", t_col.physical_type()),
                    ));
                }
            };
        let closes: Vec<f64> = match group.get_column_reader(v_idx).map_err(pq_err(path))? {
            ColumnReader::DoubleColumnReader(r) => read_leaf(
                path,
                r,
                rows,
                v_col.max_def_level(),
                first_row,
                VALUE_COLUMN,
            )?,
            ColumnReader::FloatColumnReader(r) => read_leaf(
                path,
                r,
                rows,
                v_col.max_def_level(),
                first_row,
                VALUE_COLUMN,
            )?
            .into_iter()
            .map(f64::from)
            .collect(),
            _ => {
                return Err(DataError::format(
                    path,
                    format!(
                        "column `close` has type {}; expected float64",
                        v_col.physical_type()
                    ),
                ));
            }
        };
        for (i, (t, c)) in times.into_iter().zip(closes).enumerate() {
            let at = Position::Row(first_row + i + 1);
            let t = t.map_err(|raw| {
                DataError::value(
                    path,
                    at,
                    TIME_COLUMN,
                    raw,
                    "is not a whole number of milliseconds",
                )
            })?;
            builder.push(at, t, c)?;
        }
        first_row += rows;
    }
    builder.finish()
}

/// Writes a table of named columns to a parquet file: `unix_ms` (int64, a timestamp in
/// milliseconds) then one double column per name. Snappy-compressed, one row group.
pub fn write_table(
    path: &Path,
    unix_ms: &[i64],
    columns: &[(&str, &[f64])],
) -> Result<(), DataError> {
    use parquet::basic::{Compression, Repetition};
    use parquet::data_type::{DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    use std::sync::Arc;

    let err = |e: parquet::errors::ParquetError| DataError::Write {
        file: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != unix_ms.len()) {
        return Err(DataError::Shape {
            detail: format!(
                "column {name} has {} rows, unix_ms has {}",
                c.len(),
                unix_ms.len()
            ),
        });
    }
    let mut fields = vec![Arc::new(
        Type::primitive_type_builder("unix_ms", PhysicalType::INT64)
            .with_repetition(Repetition::REQUIRED)
            .with_logical_type(Some(LogicalType::timestamp(true, TimeUnit::MILLIS)))
            .build()
            .map_err(err)?,
    )];
    for (name, _) in columns {
        fields.push(Arc::new(
            Type::primitive_type_builder(name, PhysicalType::DOUBLE)
                .with_repetition(Repetition::REQUIRED)
                .build()
                .map_err(err)?,
        ));
    }
    let schema = Arc::new(
        Type::group_type_builder("timeseries")
            .with_fields(fields)
            .build()
            .map_err(err)?,
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = File::create(path).map_err(|e| DataError::Write {
        file: path.to_path_buf(),
        source: e,
    })?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(err)?;
    let mut group = writer.next_row_group().map_err(err)?;
    let mut time = group
        .next_column()
        .map_err(err)?
        .expect("the unix_ms column");
    time.typed::<Int64Type>()
        .write_batch(unix_ms, None, None)
        .map_err(err)?;
    time.close().map_err(err)?;
    for (_, values) in columns {
        let mut col = group
            .next_column()
            .map_err(err)?
            .expect("one column per name");
        col.typed::<DoubleType>()
            .write_batch(values, None, None)
            .map_err(err)?;
        col.close().map_err(err)?;
    }
    group.close().map_err(err)?;
    writer.close().map_err(err)?;
    Ok(())
}
