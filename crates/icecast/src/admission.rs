//! Who gets a connection: at most so many at once in all, and so many from one address, counted
//! as they are accepted, before anything is read or spawned. Each admitted connection holds a
//! [`Ticket`] until it ends; over a cap, the connection is answered and closed on the spot. The
//! count per address is the radio's own ([`Addresses`], which counts its listeners likewise).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use workbench_radio::{AddressSlot, Addresses};

/// The connections held now, and the caps.
#[derive(Debug)]
pub(crate) struct Admission {
    max_total: usize,
    /// Connections held in all; locked while a connection is admitted, so that both caps are
    /// checked and taken together.
    total: Arc<Mutex<usize>>,
    by_address: Arc<Addresses>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The listener holds this many connections, the most it may.
    Full(usize),
    /// The address holds this many, the most it may.
    Address(usize),
}

impl Admission {
    /// `max_per_address` is at least 1 (the configuration says so); 0 would mean no cap per address.
    pub(crate) fn new(max_total: usize, max_per_address: usize) -> Self {
        Self { max_total, total: Arc::default(), by_address: Arc::new(Addresses::new(max_per_address)) }
    }

    /// A ticket for one more connection from `peer`, unless a cap is reached.
    pub(crate) fn admit(&self, peer: IpAddr) -> Result<Ticket, Refused> {
        let mut total = self.total.lock().unwrap_or_else(PoisonError::into_inner);
        if *total >= self.max_total {
            return Err(Refused::Full(self.max_total));
        }
        let slot = self.by_address.claim(peer).map_err(Refused::Address)?;
        *total += 1;
        Ok(Ticket { total: self.total.clone(), _slot: slot })
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        *self.total.lock().unwrap()
    }
}

/// One admitted connection: its place is given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    total: Arc<Mutex<usize>>,
    /// Its address's place, given back by its own drop.
    _slot: Option<AddressSlot>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        *self.total.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_capped_before_the_whole_listener_is() {
        let admission = Admission::new(3, 2);
        let a1 = admission.admit(ip("192.0.2.1")).unwrap();
        let _a2 = admission.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(admission.admit(ip("192.0.2.1")).unwrap_err(), Refused::Address(2));
        let _b = admission.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(admission.admit(ip("192.0.2.3")).unwrap_err(), Refused::Full(3), "three held in all");
        drop(a1);
        assert_eq!(admission.total(), 2);
        let _c = admission.admit(ip("192.0.2.3")).expect("a place given back is taken again");
    }

    #[test]
    fn tickets_given_back_leave_nothing_behind() {
        let admission = Admission::new(10, 10);
        let tickets: Vec<_> = (0..10).map(|i| admission.admit(ip(&format!("2001:db8::{i}"))).unwrap()).collect();
        assert_eq!(admission.admit(ip("192.0.2.1")).unwrap_err(), Refused::Full(10));
        drop(tickets);
        assert_eq!(admission.total(), 0);
        assert!(admission.admit(ip("2001:db8::1")).is_ok(), "an address's places are given back too");
    }

    #[test]
    fn an_ipv6_host_is_one_address_per_64() {
        let admission = Admission::new(10, 1);
        let _held = admission.admit(ip("2001:db8:0:1::1")).unwrap();
        assert_eq!(admission.admit(ip("2001:db8:0:1::2")).unwrap_err(), Refused::Address(1));
        assert!(admission.admit(ip("2001:db8:0:2::1")).is_ok());
    }
}
