//! Organisation-level figures (DESIGN §3, §4): the SD per item and per dimension,
//! Cronbach's α and ICC(1)/ICC(2).
//!
//! They are computed from the detail family's [`AtomStatistics`] and nothing else —
//! this module never sees a team — and only when the root is detail-released. That
//! is what keeps them from leaking: swapping two respondents inside one atom changes
//! no atom's statistics, so it changes no org figure either (an ICC over *teams*
//! would move, and reveal which suppressed team the answers came from).

use serde::{Deserialize, Serialize};

use safepulse_domain::{Dimension, ItemId};

use crate::atoms::AtomStatistics;
use crate::item_layout::ItemLayout;
use crate::statistics::{IntegerMoments, cronbach_alpha, intraclass_correlation};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgFigures {
    pub respondents: u32,
    /// Number of detail atoms, the groups of the ICC.
    pub atoms: u32,
    /// In the round's item order.
    pub items: Vec<OrgItemFigures>,
    /// In the order of [`Dimension::ALL`], for the dimensions the round asks about.
    pub dimensions: Vec<OrgDimensionFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgItemFigures {
    pub item: ItemId,
    /// Sample SD (n − 1) of recoded answers over the whole organisation.
    pub sd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgDimensionFigures {
    pub dimension: Dimension,
    /// Sample SD (n − 1) of respondent scores over the whole organisation.
    pub sd: f64,
    /// `None` for a single-item dimension or when row sums do not vary.
    pub cronbach_alpha: Option<f64>,
    /// One-way ANOVA over detail atoms; `None` with fewer than two atoms or no variance.
    pub icc1: Option<f64>,
    pub icc2: Option<f64>,
}

/// `detail_atoms` must partition the organisation (the root is detail-released) and
/// carry detail statistics; `None` otherwise or with fewer than two respondents.
pub(crate) fn org_figures(
    layout: &ItemLayout,
    detail_atoms: &[AtomStatistics],
) -> Option<OrgFigures> {
    let respondents: u32 = detail_atoms.iter().map(|atom| atom.respondents).sum();
    let count = u64::from(respondents);

    let mut item_moments = Vec::with_capacity(layout.items.len());
    for position in 0..layout.items.len() {
        let mut moments = IntegerMoments {
            count,
            sum: 0,
            sum_of_squares: 0,
            divisor: 1,
        };
        for atom in detail_atoms {
            let item = &atom.items[position];
            moments.sum += item.sum;
            moments.sum_of_squares += item.detail.as_ref()?.sum_of_squares;
        }
        item_moments.push(moments);
    }
    let items = layout
        .items
        .iter()
        .zip(&item_moments)
        .map(|(meta, moments)| {
            Some(OrgItemFigures {
                item: meta.id.clone(),
                sd: moments.sample_variance()?.sqrt(),
            })
        })
        .collect::<Option<Vec<_>>>()?;

    let mut dimensions = Vec::with_capacity(layout.dimensions.len());
    for (position, dimension) in layout.dimensions.iter().enumerate() {
        let divisor = dimension.items.len() as u64;
        let atom_moments = detail_atoms
            .iter()
            .map(|atom| {
                let statistics = &atom.dimensions[position];
                Some(IntegerMoments {
                    count: u64::from(atom.respondents),
                    sum: statistics.sum_of_row_sums,
                    sum_of_squares: statistics.sum_of_squared_row_sums?,
                    divisor,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let total = IntegerMoments {
            count,
            sum: atom_moments.iter().map(|moments| moments.sum).sum(),
            sum_of_squares: atom_moments
                .iter()
                .map(|moments| moments.sum_of_squares)
                .sum(),
            divisor,
        };
        let item_variance_numerators: Vec<u128> = dimension
            .items
            .iter()
            .map(|&item| item_moments[item].variance_numerator())
            .collect();
        let intraclass = intraclass_correlation(&atom_moments);
        dimensions.push(OrgDimensionFigures {
            dimension: dimension.dimension,
            sd: total.sample_variance()?.sqrt(),
            cronbach_alpha: cronbach_alpha(&item_variance_numerators, total.variance_numerator()),
            icc1: intraclass.icc1,
            icc2: intraclass.icc2,
        });
    }

    Some(OrgFigures {
        respondents,
        atoms: detail_atoms.len() as u32,
        items,
        dimensions,
    })
}
