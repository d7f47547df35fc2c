//! A network of metered nodes (a water district): per window, the volume each node supplied or
//! delivered, the totals, and efficiency = delivered / supplied. A figure is given only when
//! every inflow and outflow node is complete enough; otherwise the answer says which nodes fell
//! short. Storage nodes are listed with their volume change but are not in the ratio (a tank
//! filling in one window and emptying in the next evens out over a day).
//!
//! A node's volume over a window is, in order of preference: the sum of its `volume` readings
//! (an amount per interval), the increase of its `total_volume` meter (differenced), or its mean
//! `flow_rate` (L/s) times the window's length (m³ = L/s · s / 1000). The completeness behind it
//! is that series' completeness in the window.

use serde::{Deserialize, Serialize};

use super::windows::WindowMetrics;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Inflow,
    Outflow,
    Storage,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Inflow => "inflow",
            Role::Outflow => "outflow",
            Role::Storage => "storage",
        }
    }
}

/// How a node's volume was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    VolumeSum,
    MeterIncrease,
    FlowIntegrated,
}

impl Basis {
    /// Each basis with the variable it reads, in order of preference.
    pub const ORDER: [(Basis, &'static str); 3] = [
        (Basis::VolumeSum, "volume"),
        (Basis::MeterIncrease, "total_volume"),
        (Basis::FlowIntegrated, "flow_rate"),
    ];

    /// The volume (m³) one window of this basis' variable stands for.
    pub fn volume(self, w: &WindowMetrics) -> Option<f64> {
        match self {
            Basis::VolumeSum => w.sum,
            Basis::MeterIncrease => w.delta,
            Basis::FlowIntegrated => {
                Some(w.mean * (w.end.epoch() - w.start.epoch()) as f64 / 1_000.0)
            }
        }
    }
}

/// One node's volume over a window, or none when it has no reading there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeVolume {
    pub node: String,
    pub role: Role,
    pub volume: Option<f64>,
    pub basis: Option<Basis>,
    pub completeness: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Balance {
    pub supplied: f64,
    pub delivered: f64,
    pub loss: f64,
    /// delivered / supplied × 100; none when an input falls short.
    pub efficiency_percentage: Option<f64>,
    /// The least complete inflow or outflow node's completeness.
    pub completeness: f64,
    /// Why there is no figure.
    pub withheld: Option<String>,
    pub nodes: Vec<NodeVolume>,
}

/// The balance of one window. `min_completeness` (0–1) is what every inflow and outflow node
/// must reach for the efficiency to be given.
pub fn balance(nodes: Vec<NodeVolume>, min_completeness: f64) -> Balance {
    let metered = |role| nodes.iter().filter(move |n: &&NodeVolume| n.role == role);
    let supplied: f64 = metered(Role::Inflow).filter_map(|n| n.volume).sum();
    let delivered: f64 = metered(Role::Outflow).filter_map(|n| n.volume).sum();
    let completeness = nodes
        .iter()
        .filter(|n| n.role != Role::Storage)
        .map(|n| n.completeness)
        .fold(1.0f64, f64::min);
    let short: Vec<String> = nodes
        .iter()
        .filter(|n| n.role != Role::Storage && n.completeness < min_completeness)
        .map(|n| format!("{} ({:.0} %)", n.node, n.completeness * 100.0))
        .collect();
    let withheld =
        if metered(Role::Inflow).next().is_none() || metered(Role::Outflow).next().is_none() {
            Some("the network needs at least one inflow and one outflow node".to_owned())
        } else if !short.is_empty() {
            Some(format!(
                "below {:.0} % complete: {}",
                min_completeness * 100.0,
                short.join(", ")
            ))
        } else if supplied <= 0.0 {
            Some("no volume was supplied in the window".to_owned())
        } else {
            None
        };
    Balance {
        supplied,
        delivered,
        loss: supplied - delivered,
        efficiency_percentage: withheld.is_none().then(|| delivered / supplied * 100.0),
        completeness,
        withheld,
        nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, role: Role, volume: f64, completeness: f64) -> NodeVolume {
        NodeVolume {
            node: name.into(),
            role,
            volume: Some(volume),
            basis: Some(Basis::MeterIncrease),
            completeness,
        }
    }

    #[test]
    fn efficiency_is_delivered_over_supplied() {
        let b = balance(
            vec![
                node("in", Role::Inflow, 1_000.0, 1.0),
                node("a", Role::Outflow, 600.0, 1.0),
                node("b", Role::Outflow, 300.0, 0.95),
                node("tank", Role::Storage, 50.0, 0.2),
            ],
            0.9,
        );
        assert_eq!((b.supplied, b.delivered, b.loss), (1_000.0, 900.0, 100.0));
        assert_eq!(b.efficiency_percentage, Some(90.0));
        assert_eq!(b.completeness, 0.95);
    }

    #[test]
    fn an_incomplete_input_withholds_the_figure_and_says_which() {
        let b = balance(
            vec![
                node("in", Role::Inflow, 1_000.0, 0.5),
                node("a", Role::Outflow, 600.0, 1.0),
            ],
            0.9,
        );
        assert_eq!(b.efficiency_percentage, None);
        assert_eq!(
            b.withheld.as_deref(),
            Some("below 90 % complete: in (50 %)")
        );
        let b = balance(vec![node("a", Role::Outflow, 600.0, 1.0)], 0.9);
        assert!(b.withheld.unwrap().contains("at least one inflow"));
    }
}
