//! The differencing attacker of issue 18, as a brute-force oracle over people.
//!
//! The attacker knows who answered in every release (the best case: the manager
//! knows who was away) and assumes that everybody gave the same answers in every
//! round. Each exact release is then a linear functional over the people who
//! answered in it: its sums (n·mean), its favourable counts and, for a detail release,
//! each bin of its distributions are the sum of one per-person value over its
//! respondent set. Adding and subtracting releases recovers exactly the people's
//! values whose indicator vector lies in the span of the releases' indicator
//! vectors. The oracle computes that span and looks for
//!
//! - a single person in it (their answers, exactly), and
//! - any group of fewer than a threshold (its sums or, for detail, its answer
//!   distribution, exactly).
//!
//! Rounded releases are not exact and add nothing to the span. The arithmetic is
//! done modulo the prime 2⁶¹ − 1, which gives the same ranks as over the rationals
//! for 0/1 matrices of this size (every minor is far below the prime). The group
//! search tries every group below the threshold, so keep populations small (at
//! most 24 people).
//!
//! Shared by the anonymizer's property tests (through `#[path]`) and the black-box
//! scenarios; it depends on nothing but `std`.

const PRIME: u64 = (1 << 61) - 1;

fn multiply(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(PRIME)) as u64
}

fn subtract(a: u64, b: u64) -> u64 {
    (a + PRIME - b) % PRIME
}

fn inverse(a: u64) -> u64 {
    // Fermat: a^(p−2).
    let mut result = 1;
    let mut base = a;
    let mut exponent = PRIME - 2;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = multiply(result, base);
        }
        base = multiply(base, base);
        exponent >>= 1;
    }
    result
}

/// The span of some releases' respondent sets over `people` people.
#[derive(Debug, Clone)]
pub struct ReleaseSpan {
    people: usize,
    /// Reduced rows, each with a leading 1 in its pivot column, zero in every other
    /// row's pivot column.
    rows: Vec<(usize, Vec<u64>)>,
}

impl ReleaseSpan {
    pub fn new(people: usize) -> ReleaseSpan {
        assert!(people <= 24, "the group search is exponential");
        ReleaseSpan {
            people,
            rows: Vec::new(),
        }
    }

    /// Adds one exact release answered by `respondents` (person indices).
    pub fn add(&mut self, respondents: &[usize]) {
        let mut row = vec![0u64; self.people];
        for &person in respondents {
            row[person] = 1;
        }
        for (pivot, basis) in &self.rows {
            let factor = row[*pivot];
            if factor != 0 {
                for (value, basis_value) in row.iter_mut().zip(basis) {
                    *value = subtract(*value, multiply(factor, *basis_value));
                }
            }
        }
        let Some(pivot) = row.iter().position(|&value| value != 0) else {
            return;
        };
        let scale = inverse(row[pivot]);
        for value in &mut row {
            *value = multiply(*value, scale);
        }
        for (_, basis) in &mut self.rows {
            let factor = basis[pivot];
            if factor != 0 {
                for (value, new_value) in basis.iter_mut().zip(&row) {
                    *value = subtract(*value, multiply(factor, *new_value));
                }
            }
        }
        self.rows.push((pivot, row));
    }

    /// For each person, their column in a basis of the null space: a set of people
    /// is in the span exactly when its columns sum to zero.
    fn null_space_columns(&self) -> Vec<Vec<u64>> {
        let pivots: Vec<usize> = self.rows.iter().map(|(pivot, _)| *pivot).collect();
        let free: Vec<usize> = (0..self.people)
            .filter(|column| !pivots.contains(column))
            .collect();
        // One null-space vector per free column f: 1 at f, −row[f] at each pivot.
        let mut columns = vec![vec![0u64; free.len()]; self.people];
        for (index, &free_column) in free.iter().enumerate() {
            columns[free_column][index] = 1;
            for (pivot, row) in &self.rows {
                columns[*pivot][index] = subtract(0, row[free_column]);
            }
        }
        columns
    }

    /// A person whose answers the span gives away, if any.
    pub fn isolated_person(&self) -> Option<usize> {
        self.null_space_columns()
            .iter()
            .position(|column| column.iter().all(|&value| value == 0))
    }

    /// The smallest non-empty group of fewer than `threshold` people whose sum (or
    /// distribution) the span gives away, if any: every such group is tried,
    /// smallest first.
    pub fn isolated_group_below(&self, threshold: usize) -> Option<Vec<usize>> {
        let columns = self.null_space_columns();
        let width = columns.first().map_or(0, Vec::len);
        for size in 1..threshold.min(self.people + 1) {
            let mut chosen = Vec::with_capacity(size);
            if let Some(group) = first_zero_sum(&columns, vec![0; width], 0, size, &mut chosen) {
                return Some(group);
            }
        }
        None
    }
}

/// Depth-first over groups of exactly `size` more people from `from` on, whose
/// columns, added to `sum`, give zero.
fn first_zero_sum(
    columns: &[Vec<u64>],
    sum: Vec<u64>,
    from: usize,
    size: usize,
    chosen: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    if size == 0 {
        return sum.iter().all(|&value| value == 0).then(|| chosen.clone());
    }
    for person in from..=columns.len().saturating_sub(size) {
        let next: Vec<u64> = sum
            .iter()
            .zip(&columns[person])
            .map(|(a, b)| (a + b) % PRIME)
            .collect();
        chosen.push(person);
        let found = first_zero_sum(columns, next, person + 1, size - 1, chosen);
        chosen.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}
