//! Reading the machine and this process through `sysinfo`. The `System`, `Networks` and `Disks`
//! objects live as long as the probe: CPU usage and network counters are differences between
//! two refreshes, and keeping them avoids re-listing CPUs and interfaces every time. Each
//! refresh asks only for what a sample shows (no process list, no CPU frequencies, no disk I/O).
//! Reading blocks on `/proc` and `/sys`: call [`Probe::read`] on the blocking pool.

use std::time::Instant;

use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind, ProcessesToUpdate,
    System,
};

use crate::sample::{DiskSpace, MemoryUsage, ProcessUsage, SwapUsage, round2};

/// What one read of the machine saw. Network figures are running totals: the rate is the
/// difference between two readings over the time between them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reading {
    pub taken: Instant,
    pub cpu_percent: f64,
    pub cpus: Vec<f64>,
    pub load_average: [f64; 3],
    pub memory: MemoryUsage,
    pub swap: SwapUsage,
    pub disks: Vec<DiskSpace>,
    pub network: ByteTotals,
    pub process: ProcessUsage,
}

/// Bytes received and sent through every interface but loopback since they came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ByteTotals {
    pub rx: u64,
    pub tx: u64,
}

pub(crate) struct Probe {
    system: System,
    networks: Networks,
    disks: Disks,
    /// This process, when the platform tells it.
    pid: Option<Pid>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("pid", &self.pid).finish_non_exhaustive()
    }
}

fn cpu() -> CpuRefreshKind {
    CpuRefreshKind::nothing().with_cpu_usage()
}

fn memory() -> MemoryRefreshKind {
    MemoryRefreshKind::nothing().with_ram().with_swap()
}

/// Sizes only: the disks' kind and I/O counters cost a lookup per device and are not shown.
fn storage() -> DiskRefreshKind {
    DiskRefreshKind::nothing().with_storage()
}

/// Memory and CPU time of this one process; not its threads (`tasks`), which would list each.
fn process() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().with_memory().with_cpu().without_tasks()
}

impl Probe {
    /// Lists the CPUs, interfaces and disks and takes the first reading of the counters that
    /// later readings are differences from.
    pub fn new() -> Self {
        let mut system = System::new();
        system.refresh_cpu_specifics(cpu());
        let pid = sysinfo::get_current_pid().ok();
        if let Some(pid) = pid {
            system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, process());
        }
        Self {
            system,
            networks: Networks::new_with_refreshed_list(),
            disks: Disks::new_with_refreshed_list_specifics(storage()),
            pid,
        }
    }

    pub fn read(&mut self) -> Reading {
        self.system.refresh_cpu_specifics(cpu());
        self.system.refresh_memory_specifics(memory());
        // Mounts and interfaces come and go (a volume attached, a VPN up): list them again.
        self.networks.refresh(true);
        self.disks.refresh_specifics(true, storage());
        let taken = Instant::now();
        if let Some(pid) = self.pid {
            self.system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, process());
        }
        let process = self.pid.and_then(|pid| self.system.process(pid));
        let cpu_count = self.system.cpus().len().max(1);
        let load = System::load_average();
        let total = self.system.total_memory();
        let available = self.system.available_memory();
        Reading {
            taken,
            cpu_percent: round2(f64::from(self.system.global_cpu_usage())),
            cpus: self.system.cpus().iter().map(|c| round2(f64::from(c.cpu_usage()))).collect(),
            load_average: [load.one, load.five, load.fifteen].map(round2),
            memory: MemoryUsage {
                total_bytes: total,
                used_bytes: total.saturating_sub(available),
                available_bytes: available,
            },
            swap: SwapUsage { total_bytes: self.system.total_swap(), used_bytes: self.system.used_swap() },
            disks: disk_spaces(&self.disks),
            network: byte_totals(&self.networks),
            process: ProcessUsage {
                rss_bytes: process.map_or(0, sysinfo::Process::memory),
                // sysinfo counts a process's CPU per core (up to 100 × cores); a sample shows
                // shares of the whole machine, as `cpu_percent` does.
                cpu_percent: round2(process.map_or(0.0, |p| f64::from(p.cpu_usage())) / cpu_count as f64),
                uptime_s: process.map_or(0, sysinfo::Process::run_time),
            },
        }
    }
}

/// Every mounted file system with a size, once per mount point (bind mounts of one file system
/// in containers list it several times under different mounts, which are kept: each is a place
/// that can fill up).
fn disk_spaces(disks: &Disks) -> Vec<DiskSpace> {
    let mut spaces: Vec<DiskSpace> = disks
        .list()
        .iter()
        .filter(|d| d.total_space() > 0)
        .map(|d| DiskSpace {
            mount: d.mount_point().to_string_lossy().into_owned(),
            total_bytes: d.total_space(),
            available_bytes: d.available_space(),
        })
        .collect();
    spaces.sort_by(|a, b| a.mount.cmp(&b.mount));
    spaces.dedup_by(|a, b| a.mount == b.mount);
    spaces
}

fn byte_totals(networks: &Networks) -> ByteTotals {
    networks.list().iter().filter(|(name, data)| !is_loopback(name, data.ip_networks())).fold(
        ByteTotals::default(),
        |sum, (_, data)| ByteTotals {
            rx: sum.rx.saturating_add(data.total_received()),
            tx: sum.tx.saturating_add(data.total_transmitted()),
        },
    )
}

/// Loopback traffic never leaves the machine, and counts every byte twice (sent and received).
fn is_loopback(name: &str, addresses: &[sysinfo::IpNetwork]) -> bool {
    name == "lo" || (!addresses.is_empty() && addresses.iter().all(|a| a.addr.is_loopback()))
}

impl ByteTotals {
    /// Bytes per second from `earlier` to `self`, `seconds` apart. Counters that went backwards
    /// (an interface that went away or was reset) count nothing rather than a negative rate.
    pub fn rates_since(self, earlier: ByteTotals, seconds: f64) -> (f64, f64) {
        if seconds <= 0.0 {
            return (0.0, 0.0);
        }
        let rate = |after: u64, before: u64| round2(after.saturating_sub(before) as f64 / seconds);
        (rate(self.rx, earlier.rx), rate(self.tx, earlier.tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_rates_are_byte_deltas_over_seconds() {
        let earlier = ByteTotals { rx: 1_000, tx: 500 };
        assert_eq!(ByteTotals { rx: 6_000, tx: 2_500 }.rates_since(earlier, 2.0), (2_500.0, 1_000.0));
        assert_eq!(ByteTotals { rx: 10, tx: 600 }.rates_since(earlier, 1.0), (0.0, 100.0), "rx went backwards");
        assert_eq!(ByteTotals { rx: 6_000, tx: 2_500 }.rates_since(earlier, 0.0), (0.0, 0.0));
    }

    #[test]
    fn loopback_is_told_by_name_or_by_its_addresses() {
        let loopback = sysinfo::IpNetwork { addr: "127.0.0.1".parse().unwrap(), prefix: 8 };
        let lan = sysinfo::IpNetwork { addr: "192.168.1.5".parse().unwrap(), prefix: 24 };
        assert!(is_loopback("lo", &[]));
        assert!(is_loopback("lo0", &[loopback]));
        assert!(!is_loopback("eth0", &[lan]));
        assert!(!is_loopback("eth1", &[]), "no address says nothing");
    }

    /// Reads this machine for real: the figures must be plausible, whatever the machine.
    #[test]
    fn a_reading_of_this_machine_is_plausible() {
        let mut probe = Probe::new();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let reading = probe.read();
        assert!((0.0..=100.0).contains(&reading.cpu_percent), "{reading:?}");
        assert!(!reading.cpus.is_empty());
        assert!(reading.memory.total_bytes > 0 && reading.memory.used_bytes <= reading.memory.total_bytes);
        assert!(reading.process.rss_bytes > 0, "this test process has resident memory");
        assert!(reading.disks.iter().all(|d| d.total_bytes > 0 && d.available_bytes <= d.total_bytes));
        let later = probe.read();
        assert!(later.network.rx >= reading.network.rx || later.network.rx == 0);
    }
}
