//! Column alignment exactly as the Docker CLI does it: Go's `text/tabwriter` configured as
//! `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` (minimum cell width 10, padding 3, space padding, no flags).
//! Each row is a list of cells; every cell but the last of its row is padded with spaces to its column's width,
//! which is the widest cell of the column plus 3, and never less than 10. The last cell of a row is written as is,
//! so a row whose trailing cells are empty still ends with the padding of the cells before it (Docker's `service
//! ls` lines for services without ports end in spaces). Widths count characters, not bytes (`…` is one).
//! As in tabwriter, a column's width is shared by a block of consecutive rows that all have a cell in that column.

/// The smallest width (text plus padding) of a padded cell.
pub const MIN_WIDTH: usize = 10;
/// Spaces added after the widest cell of a column.
pub const PADDING: usize = 3;

/// A table under construction: a header row and data rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut table = Table::default();
        table.row(header);
        table
    }

    /// Appends one row.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The aligned text, one line per row, each ending in `\n`.
    pub fn render(&self) -> String {
        align(&self.rows)
    }
}

/// Aligns `rows` as Docker's tabwriter does; see the module documentation.
pub fn align(rows: &[Vec<String>]) -> String {
    let widths: Vec<Vec<usize>> =
        rows.iter().map(|row| row.iter().map(|cell| cell.chars().count()).collect()).collect();
    let mut column_widths: Vec<Vec<usize>> = rows.iter().map(|row| vec![0; row.len().saturating_sub(1)]).collect();
    assign_widths(&widths, 0, rows.len(), 0, &mut column_widths);
    let mut out = String::new();
    for (line, row) in rows.iter().enumerate() {
        for (column, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if column + 1 < row.len() {
                let pad = column_widths[line][column].saturating_sub(widths[line][column]);
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// tabwriter's column blocks: within lines `start..end`, each maximal run of consecutive lines that have a padded
/// cell in `column` shares one width, and the next column is sized within that run only.
fn assign_widths(widths: &[Vec<usize>], start: usize, end: usize, column: usize, out: &mut [Vec<usize>]) {
    let has_cell = |line: usize| column + 1 < widths[line].len();
    let mut line = start;
    while line < end {
        if !has_cell(line) {
            line += 1;
            continue;
        }
        let block_start = line;
        let mut width = MIN_WIDTH;
        while line < end && has_cell(line) {
            width = width.max(widths[line][column] + PADDING);
            line += 1;
        }
        for row in &mut out[block_start..line] {
            row[column] = width;
        }
        assign_widths(widths, block_start, line, column + 1, out);
    }
}
