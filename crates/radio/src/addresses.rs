//! Listeners per address: at most so many at once from one client address on this instance
//! (`RADIO_MAX_LISTENERS_PER_IP`), as Icecast limits its clients per IP, so that one host cannot
//! hold every socket and all the bandwidth a station has. A listener holds an [`AddressSlot`] for
//! as long as it listens: the slot goes with its socket.
//!
//! The radio's source listener (`workbench-icecast`) caps its connections per address with the
//! same count.
//!
//! Counted per instance, not across them: a listener costs the instance it is connected to, and a
//! count in Redis would cost a round trip per tune-in for a bound that a load balancer spreading
//! one address over `n` instances multiplies by `n` at most.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// The holders (listeners, connections) of each address on this instance, and how many one may
/// have.
#[derive(Debug, Default)]
pub struct Addresses {
    /// The most listeners one address may have at once; `None`: no limit.
    max: Option<usize>,
    /// Listeners now, by address group ([`workbench_core::address_group`]); an address is
    /// removed with its last listener, so the map holds only addresses that listen.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl Addresses {
    /// `max` per address at most; `0`: no limit.
    pub fn new(max: usize) -> Self {
        Self { max: Some(max).filter(|&max| max > 0), counts: Mutex::default() }
    }

    /// A slot for one more holder from `address`, or `Err(max)` when it has `max` already. With no
    /// limit, no slot is needed and none is counted (`Ok(None)`).
    pub fn claim(self: &Arc<Self>, address: IpAddr) -> Result<Option<AddressSlot>, usize> {
        let Some(max) = self.max else { return Ok(None) };
        let address = workbench_core::address_group(address);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(address).or_default();
        if *count >= max {
            return Err(max);
        }
        *count += 1;
        Ok(Some(AddressSlot { addresses: self.clone(), address }))
    }

    fn release(&self, address: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&address);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn listening(&self, address: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&workbench_core::address_group(address)).copied().unwrap_or(0)
    }
}

/// One holder's place among its address's: given back when it is dropped.
#[derive(Debug)]
pub struct AddressSlot {
    addresses: Arc<Addresses>,
    address: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        self.addresses.release(self.address);
    }
}

/// A listener's socket with its slot: the slot is given back when the socket is dropped, wherever
/// that happens (the listener went, was cut, or fell behind), without the writer knowing of slots.
pub(crate) struct Slotted<W> {
    pub(crate) out: W,
    pub(crate) _slot: AddressSlot,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Slotted<W> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.out).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.out).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.out).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.out).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.out.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_max_slots_each_given_back_when_dropped() {
        let addresses = Arc::new(Addresses::new(2));
        let (home, other): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = addresses.claim(home).unwrap();
        let second = addresses.claim(home).unwrap();
        assert_eq!(addresses.claim(home).unwrap_err(), 2, "a third from one address");
        assert!(addresses.claim(other).unwrap().is_some(), "another address has slots of its own");
        drop(first);
        assert_eq!(addresses.listening(home), 1);
        let third = addresses.claim(home).unwrap();
        drop((second, third));
        assert_eq!(addresses.listening(home), 0);
        assert!(
            addresses.counts.lock().unwrap().get(&home).is_none(),
            "an address that stopped listening is forgotten"
        );
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64() {
        let addresses = Arc::new(Addresses::new(1));
        let _held = addresses.claim("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(addresses.claim("2001:db8:1:2:ffff::9".parse().unwrap()).is_err(), "the same /64");
        assert!(addresses.claim("2001:db8:1:3::1".parse().unwrap()).is_ok(), "another /64");
    }

    #[test]
    fn no_limit_counts_nothing() {
        let addresses = Arc::new(Addresses::new(0));
        let home: IpAddr = "192.0.2.1".parse().unwrap();
        let slots: Vec<_> = (0..1000).map(|_| addresses.claim(home).unwrap()).collect();
        assert!(slots.iter().all(Option::is_none));
        assert_eq!(addresses.listening(home), 0);
    }
}
