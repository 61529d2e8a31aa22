//! A parsed iCalendar object seen as what RFC 4791 §9.7 filters walk: components that have a
//! name, properties and subcomponents. `ical` gives each component kind its own struct.

use ical::parser::ical::component::{IcalAlarm, IcalCalendar, IcalTimeZoneTransitionType};
use ical::property::Property;

use workbench_calendars::ical_time::instant;

use chrono::{DateTime, Utc};

/// One component of a calendar object.
#[derive(Debug)]
pub(crate) struct Component<'a> {
    /// The component name, upper case as `ical` only reads it so (`VTODO`).
    pub name: &'static str,
    pub properties: &'a [Property],
    pub children: Vec<Component<'a>>,
}

impl<'a> Component<'a> {
    /// The `VCALENDAR` of `calendar`, with every component it holds.
    pub fn calendar(calendar: &'a IcalCalendar) -> Self {
        let mut children = Vec::new();
        children.extend(calendar.todos.iter().map(|t| Self::with_alarms("VTODO", &t.properties, &t.alarms)));
        children.extend(calendar.events.iter().map(|e| Self::with_alarms("VEVENT", &e.properties, &e.alarms)));
        children.extend(calendar.journals.iter().map(|j| Self::leaf("VJOURNAL", &j.properties)));
        children.extend(calendar.free_busys.iter().map(|f| Self::leaf("VFREEBUSY", &f.properties)));
        children.extend(calendar.timezones.iter().map(|zone| {
            Component {
                name: "VTIMEZONE",
                properties: &zone.properties,
                children: zone
                    .transitions
                    .iter()
                    .map(|t| match t.transition {
                        IcalTimeZoneTransitionType::STANDARD => Self::leaf("STANDARD", &t.properties),
                        IcalTimeZoneTransitionType::DAYLIGHT => Self::leaf("DAYLIGHT", &t.properties),
                    })
                    .collect(),
            }
        }));
        children.extend(calendar.alarms.iter().map(|a| Self::leaf("VALARM", &a.properties)));
        Component { name: "VCALENDAR", properties: &calendar.properties, children }
    }

    fn leaf(name: &'static str, properties: &'a [Property]) -> Self {
        Component { name, properties, children: Vec::new() }
    }

    fn with_alarms(name: &'static str, properties: &'a [Property], alarms: &'a [IcalAlarm]) -> Self {
        Component { name, properties, children: alarms.iter().map(|a| Self::leaf("VALARM", &a.properties)).collect() }
    }

    /// The first property named `name` (names are case-insensitive).
    pub fn property(&self, name: &str) -> Option<&'a Property> {
        self.properties.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The instant of the property `name`; one that names no instant counts as absent, so that
    /// a client's odd value does not hide its component from every query.
    pub fn instant(&self, name: &str) -> Option<DateTime<Utc>> {
        self.property(name).and_then(|p| instant(p).ok())
    }
}
