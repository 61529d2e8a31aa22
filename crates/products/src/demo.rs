//! A small, realistic catalogue and collection for a newcomer's demo database
//! (`workbench seed --demo`), given as drafts so that seeding goes through the same rules as
//! every client.

use chrono::{Days, Months, NaiveDate};
use serde_json::{Value, json};
use workbench_core::TypeFailures;

use crate::{CategoryDraft, Product, ProductDraft, ProductStatus, UserProductDraft, UserProductStatus};

/// A category and its products. The products' `category_id` is left out: the seeder sets it to
/// the id the category gets.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCategory {
    /// The category to create.
    pub category: CategoryDraft,
    /// Its products, each to be listed under it.
    pub products: Vec<ProductDraft>,
}

fn category(name: &str, description: &str, products: Vec<ProductDraft>) -> DemoCategory {
    DemoCategory {
        category: CategoryDraft {
            name: Some(name.into()),
            slug: None,
            description: Some(description.into()),
            type_failures: TypeFailures::default(),
        },
        products,
    }
}

struct Spec<'a> {
    name: &'a str,
    brand: &'a str,
    model: &'a str,
    description: &'a str,
    price_cents: i64,
    warranty_months: i64,
    website: &'a str,
    specifications: Value,
}

fn product(spec: Spec<'_>) -> ProductDraft {
    ProductDraft {
        name: Some(spec.name.into()),
        category_id: None,
        brand: Some(spec.brand.into()),
        model: Some(spec.model.into()),
        description: Some(spec.description.into()),
        price_cents: Some(spec.price_cents),
        currency: Some("EUR".into()),
        warranty_months: Some(spec.warranty_months),
        warranty_conditions: Some(
            "Manufacturer's warranty against defects in materials and workmanship from the date of purchase; \
             keep the invoice. Wear parts, accidental damage and misuse are not covered."
                .into(),
        ),
        manufacturer_website: Some(spec.website.into()),
        specifications: Some(spec.specifications),
        status: Some(ProductStatus::Active),
        type_failures: TypeFailures::default(),
    }
}

/// Five categories with a few products each, prices in EUR and nested specifications (one
/// product is discontinued, one name is not plain ASCII).
pub fn catalogue() -> Vec<DemoCategory> {
    vec![
        category(
            "Audio",
            "Headphones, earbuds and speakers.",
            vec![
                product(Spec {
                    name: "WH-1000XM5 Wireless Noise Cancelling Headphones",
                    brand: "Sony",
                    model: "WH-1000XM5",
                    description: "Over-ear headphones with adaptive noise cancelling and 30 hours of battery.",
                    price_cents: 39_900,
                    warranty_months: 24,
                    website: "https://www.sony.com/",
                    specifications: json!({
                        "type": "over-ear",
                        "noise_cancelling": true,
                        "battery_hours": 30,
                        "weight_g": 250,
                        "bluetooth": {"version": "5.2", "codecs": ["SBC", "AAC", "LDAC"]},
                        "colours": ["black", "silver", "midnight blue"]
                    }),
                }),
                ProductDraft {
                    status: Some(ProductStatus::Discontinued),
                    ..product(Spec {
                        name: "WH-1000XM4 Wireless Noise Cancelling Headphones",
                        brand: "Sony",
                        model: "WH-1000XM4",
                        description: "The previous generation, no longer sold.",
                        price_cents: 34_900,
                        warranty_months: 24,
                        website: "https://www.sony.com/",
                        specifications: json!({
                            "type": "over-ear",
                            "noise_cancelling": true,
                            "battery_hours": 30,
                            "bluetooth": {"version": "5.0", "codecs": ["SBC", "AAC", "LDAC"]}
                        }),
                    })
                },
                product(Spec {
                    name: "Era 100 Smart Speaker",
                    brand: "Sonos",
                    model: "Era 100",
                    description: "A compact stereo speaker for Wi-Fi and Bluetooth.",
                    price_cents: 27_900,
                    warranty_months: 24,
                    website: "https://www.sonos.com/",
                    specifications: json!({
                        "drivers": {"tweeters": 2, "woofers": 1},
                        "connectivity": ["Wi-Fi 6", "Bluetooth 5.0", "USB-C line-in"],
                        "voice_assistants": ["Amazon Alexa", "Sonos Voice Control"]
                    }),
                }),
            ],
        ),
        category(
            "Kitchen appliances",
            "Coffee machines, mixers and dishwashers.",
            vec![
                product(Spec {
                    name: "Magnifica Evo Bean-to-Cup Coffee Machine",
                    brand: "De'Longhi",
                    model: "ECAM290.61.B",
                    description: "Grinds beans for espresso, coffee and milk drinks at the touch of a button.",
                    price_cents: 54_900,
                    warranty_months: 24,
                    website: "https://www.delonghi.com/",
                    specifications: json!({
                        "pressure_bar": 15,
                        "water_tank_l": 1.8,
                        "bean_container_g": 250,
                        "power_w": 1450,
                        "recipes": ["espresso", "coffee", "cappuccino", "latte macchiato"]
                    }),
                }),
                product(Spec {
                    name: "Artisan Stand Mixer",
                    brand: "KitchenAid",
                    model: "5KSM175PS",
                    description: "A tilt-head stand mixer with a 4.8 l stainless-steel bowl.",
                    price_cents: 64_900,
                    warranty_months: 60,
                    website: "https://www.kitchenaid.eu/",
                    specifications: json!({
                        "bowl_l": 4.8,
                        "speeds": 10,
                        "power_w": 300,
                        "attachments": {"included": ["flat beater", "dough hook", "wire whip"], "hub": true}
                    }),
                }),
                product(Spec {
                    name: "Série 6 Lave-vaisselle posable",
                    brand: "Bosch",
                    model: "SMS6ZCI42E",
                    description: "Lave-vaisselle 60 cm, 14 couverts, classe énergétique C.",
                    price_cents: 79_900,
                    warranty_months: 24,
                    website: "https://www.bosch-home.com/",
                    specifications: json!({
                        "largeur_cm": 60,
                        "couverts": 14,
                        "classe_énergétique": "C",
                        "niveau_sonore_db": 42,
                        "programmes": ["Eco 50 °C", "Auto 45–65 °C", "Intensif 70 °C"]
                    }),
                }),
            ],
        ),
        category(
            "Computers",
            "Laptops and monitors.",
            vec![
                product(Spec {
                    name: "MacBook Air 13-inch (M3)",
                    brand: "Apple",
                    model: "MRXN3",
                    description: "A fanless 13.6-inch laptop with the M3 chip.",
                    price_cents: 129_900,
                    warranty_months: 24,
                    website: "https://www.apple.com/",
                    specifications: json!({
                        "cpu": {"name": "Apple M3", "cores": 8},
                        "memory_gb": 8,
                        "storage_gb": 256,
                        "display": {"inches": 13.6, "resolution": "2560x1664"},
                        "weight_kg": 1.24
                    }),
                }),
                product(Spec {
                    name: "UltraSharp 27 Monitor",
                    brand: "Dell",
                    model: "U2724D",
                    description: "A 27-inch QHD IPS monitor with a USB hub.",
                    price_cents: 41_900,
                    warranty_months: 36,
                    website: "https://www.dell.com/",
                    specifications: json!({
                        "size_inches": 27,
                        "resolution": "2560x1440",
                        "refresh_hz": 120,
                        "ports": ["HDMI", "DisplayPort", "USB-C", "4x USB-A"]
                    }),
                }),
            ],
        ),
        category(
            "Tools",
            "Power tools for home and garden.",
            vec![
                product(Spec {
                    name: "GSR 18V-55 Cordless Drill/Driver",
                    brand: "Bosch Professional",
                    model: "GSR 18V-55",
                    description: "A brushless 18 V drill/driver, battery sold separately.",
                    price_cents: 15_900,
                    warranty_months: 36,
                    website: "https://www.bosch-professional.com/",
                    specifications: json!({
                        "voltage_v": 18,
                        "torque_nm": {"soft": 28, "hard": 55},
                        "chuck_mm": 13,
                        "brushless": true
                    }),
                }),
                product(Spec {
                    name: "Cordless Grass Trimmer",
                    brand: "Makita",
                    model: "DUR189Z",
                    description: "An 18 V LXT line trimmer with a 30 cm cutting width.",
                    price_cents: 12_900,
                    warranty_months: 36,
                    website: "https://www.makita.com/",
                    specifications: json!({"voltage_v": 18, "cutting_width_cm": 30, "weight_kg": 2.9}),
                }),
            ],
        ),
        category(
            "Phones",
            "Smartphones.",
            vec![
                product(Spec {
                    name: "Pixel 9",
                    brand: "Google",
                    model: "GUR25",
                    description: "A 6.3-inch Android phone with seven years of updates.",
                    price_cents: 89_900,
                    warranty_months: 24,
                    website: "https://store.google.com/",
                    specifications: json!({
                        "display_inches": 6.3,
                        "storage_gb": [128, 256],
                        "cameras": {"main_mp": 50, "ultrawide_mp": 48, "front_mp": 10.5},
                        "battery_mah": 4700
                    }),
                }),
                product(Spec {
                    name: "Fairphone 5",
                    brand: "Fairphone",
                    model: "FP5",
                    description: "A modular phone its owner can repair, with a five-year warranty.",
                    price_cents: 69_900,
                    warranty_months: 60,
                    website: "https://www.fairphone.com/",
                    specifications: json!({
                        "display_inches": 6.46,
                        "storage_gb": 256,
                        "replaceable_parts": ["battery", "display", "cameras", "USB-C port", "speaker"],
                        "battery_mah": 4200
                    }),
                }),
            ],
        ),
    ]
}

/// A demo user's collection of the active, warranted products among `products`, as of `today`:
/// the first has a warranty ending in about ten days (`expiring`), the second one that ended
/// three months ago (`expired`), the rest were bought two months ago (`active`); the last one
/// is marked `broken`.
pub fn collection(products: &[Product], today: NaiveDate) -> Vec<UserProductDraft> {
    let usable = products.iter().filter(|p| p.is_active() && p.warranty_months > 0);
    let count = usable.clone().count();
    usable
        .enumerate()
        .map(|(i, p)| {
            let months = Months::new(u32::from(p.warranty_months));
            let bought = match i {
                0 => today.checked_add_days(Days::new(10)).and_then(|d| d.checked_sub_months(months)),
                1 => today.checked_sub_months(Months::new(u32::from(p.warranty_months) + 3)),
                _ => today.checked_sub_months(Months::new(2)),
            };
            UserProductDraft {
                product_id: Some(p.id.0),
                serial_number: Some(format!("DEMO-{:04}", i + 1)),
                purchase_date: bought,
                purchase_price_cents: p.price_cents,
                warranty_expires: None,
                status: Some(if i + 1 == count && i > 1 {
                    UserProductStatus::Broken
                } else {
                    UserProductStatus::Active
                }),
                notes: (i == 0).then(|| "Invoice in the drawer; register for the extended warranty.".to_owned()),
                type_failures: TypeFailures::default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{
        CategoryId, NewCategory, NewProduct, NewUserProduct, ProductId, WarrantyFilter, WarrantyQuery, warranty_expiry,
    };

    /// The demo catalogue as it would be stored.
    fn stored() -> Vec<Product> {
        let at = workbench_users::now();
        let mut id = 0;
        catalogue()
            .into_iter()
            .enumerate()
            .flat_map(|(c, demo)| demo.products.into_iter().map(move |draft| (c, draft)))
            .map(|(c, draft)| {
                id += 1;
                let new = NewProduct::parse(ProductDraft { category_id: Some(c as i64 + 1), ..draft }).unwrap();
                Product {
                    id: ProductId(id),
                    name: new.name.into_inner(),
                    category_id: CategoryId(c as i64 + 1),
                    brand: new.brand.into_inner(),
                    model: new.model,
                    description: new.description,
                    price_cents: new.price_cents,
                    currency: new.currency,
                    warranty_months: new.warranty_months,
                    warranty_conditions: new.warranty_conditions,
                    manufacturer_website: new.manufacturer_website.map(|w| w.into_inner()),
                    specifications: new.specifications,
                    status: new.status,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                }
            })
            .collect()
    }

    #[test]
    fn every_demo_category_and_product_is_valid_and_slugs_are_unique() {
        let mut slugs = HashSet::new();
        for demo in catalogue() {
            let category = NewCategory::parse(demo.category).expect("a valid demo category");
            assert!(slugs.insert(category.slug.into_inner()), "slugs are unique");
            assert!(!demo.products.is_empty());
        }
        let products = stored();
        assert!(products.len() >= 10);
        assert!(products.iter().any(|p| !p.is_active()), "one discontinued product to show");
        assert!(products.iter().any(|p| p.specifications.as_map().values().any(Value::is_object)), "nested specs");
    }

    #[test]
    fn the_demo_collection_shows_every_warranty_state() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let drafts = collection(&stored(), today);
        let expires: Vec<_> = drafts
            .into_iter()
            .map(|d| {
                let product = stored().into_iter().find(|p| Some(p.id.0) == d.product_id).unwrap();
                assert!(product.is_active(), "only active products can be added");
                let new = NewUserProduct::parse(d, today).expect("a valid demo item");
                warranty_expiry(new.purchase_date.unwrap(), product.warranty_months)
            })
            .collect();
        for filter in [WarrantyFilter::Expiring, WarrantyFilter::Expired, WarrantyFilter::Active] {
            let window = WarrantyQuery { filter, days: 30 }.window(today);
            assert!(expires.iter().any(|e| window.contains(Some(*e))), "nothing {filter:?}");
        }
    }
}
