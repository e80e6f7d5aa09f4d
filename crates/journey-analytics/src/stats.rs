//! Small statistics: single-case non-overlap effect sizes, Spearman's rho, Kaplan-Meier.

/// NAP, PND, Tau and Tau-U of baseline `a` and treatment `b` (both non-empty).
pub fn nap(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    for &x in a {
        for &y in b {
            if y > x {
                sum += 1.0;
            } else if y == x {
                sum += 0.5;
            }
        }
    }
    sum / (a.len() * b.len()) as f64
}

/// Share of `b` above the maximum of `a`.
pub fn pnd(a: &[f64], b: &[f64]) -> f64 {
    let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    b.iter().filter(|&&y| y > max).count() as f64 / b.len() as f64
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// S_AB = sum over pairs of sign(Bj - Ai).
fn s_ab(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .flat_map(|&x| b.iter().map(move |&y| sign(y - x)))
        .sum()
}

/// Tau: S_AB / mn.
pub fn tau(a: &[f64], b: &[f64]) -> f64 {
    s_ab(a, b) / (a.len() * b.len()) as f64
}

/// Tau-U (A vs B minus baseline trend): (S_AB - S_A) / mn.
pub fn tau_u(a: &[f64], b: &[f64]) -> f64 {
    let mut s_a = 0.0;
    for i in 0..a.len() {
        for k in i + 1..a.len() {
            s_a += sign(a[k] - a[i]);
        }
    }
    (s_ab(a, b) - s_a) / (a.len() * b.len()) as f64
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Ranks 1..n, ties given their average rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            ranks[index] = average;
        }
        start = end + 1;
    }
    ranks
}

/// Pearson's correlation of `x` and `y` (equal lengths, neither constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let mut sxy = 0.0;
    let mut sxx = 0.0;
    let mut syy = 0.0;
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// Spearman's rho: the Pearson correlation of the ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// The Kaplan-Meier median of `(time, event)` observations (event = false: censored at
/// `time`; at equal times events come before censorings): the first time at which the
/// survival estimate is <= 0.5, or `None`.
pub fn km_median(observations: &[(i64, bool)]) -> Option<i64> {
    let mut times: Vec<i64> = observations.iter().filter(|o| o.1).map(|o| o.0).collect();
    times.sort_unstable();
    times.dedup();
    let mut survival = 1.0;
    for t in times {
        let at_risk = observations.iter().filter(|o| o.0 >= t).count() as f64;
        let events = observations.iter().filter(|o| o.1 && o.0 == t).count() as f64;
        survival *= 1.0 - events / at_risk;
        if survival <= 0.5 {
            return Some(t);
        }
    }
    None
}

/// The Kaplan-Meier survival curve of `(time, event)` observations: one step per event time,
/// `(time, number at risk just before it, survival from that time on)`, in time order.
pub fn km_curve(observations: &[(i64, bool)]) -> Vec<(i64, usize, f64)> {
    let mut times: Vec<i64> = observations.iter().filter(|o| o.1).map(|o| o.0).collect();
    times.sort_unstable();
    times.dedup();
    let mut survival = 1.0;
    times
        .into_iter()
        .map(|t| {
            let at_risk = observations.iter().filter(|o| o.0 >= t).count();
            let events = observations.iter().filter(|o| o.1 && o.0 == t).count();
            survival *= 1.0 - events as f64 / at_risk as f64;
            (t, at_risk, survival)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_worked_example_of_the_spec() {
        let a = [14.0, 29.0, 14.0, 43.0, 29.0];
        let b = [43.0, 57.0, 29.0, 71.0, 57.0, 86.0, 71.0, 86.0];
        assert!(close(nap(&a, &b), 0.9375));
        assert!(close(pnd(&a, &b), 0.75));
        assert!(close(tau(&a, &b), 0.875));
        assert!(close(tau_u(&a, &b), 0.775));
    }

    #[test]
    fn ties_in_spearman_get_their_average_rank() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]);
        // Ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4].
        assert!(close(
            rho,
            pearson(&[1.0, 2.5, 2.5, 4.0], &[1.0, 2.0, 3.0, 4.0])
        ));
        assert!(rho < 1.0 && rho > 0.9);
    }

    #[test]
    fn kaplan_meier_counts_censored_at_an_event_time_as_still_at_risk() {
        // Events at 10 and 20, censored at 10 and 30. At 10: 4 at risk, 1 event: S = 0.75.
        // At 20: 2 at risk, 1 event: S = 0.375 <= 0.5.
        let observations = [(10, true), (10, false), (20, true), (30, false)];
        assert_eq!(km_median(&observations), Some(20));
        // Censored before the events: never below one half.
        assert_eq!(km_median(&[(5, false), (6, false), (7, true)]), Some(7));
        assert_eq!(km_median(&[(5, true), (6, false), (7, false)]), None);
        assert_eq!(km_median(&[]), None);
        let curve = km_curve(&observations);
        assert_eq!(curve.len(), 2);
        assert_eq!((curve[0].0, curve[0].1), (10, 4));
        assert!(close(curve[0].2, 0.75) && close(curve[1].2, 0.375));
    }
}
