//! Record schemas: field types and picklists, declared in rule files or loaded from CRM field
//! metadata (JSON).

use serde::Deserialize;

/// The type of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// An email address (text).
    Email,
    /// A phone number (text).
    Phone,
    /// A 64-bit integer.
    Integer,
    /// A decimal number.
    Decimal,
    /// A currency amount (a decimal number).
    Currency,
    /// `true` / `false`.
    Boolean,
    /// A calendar date, `YYYY-MM-DD` in JSON.
    Date,
    /// An RFC 3339 date-time in JSON.
    DateTime,
    /// One value out of a fixed list.
    Picklist(Vec<String>),
    /// Several values out of a fixed list (a JSON array).
    Multiselect(Vec<String>),
    /// A nested object.
    Object(Vec<Field>),
}

impl FieldType {
    /// The name used in rule files and messages.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Currency => "currency",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Picklist(_) => "picklist",
            FieldType::Multiselect(_) => "multiselect",
            FieldType::Object(_) => "object",
        }
    }

    /// The simple type with this name (not picklists, multiselects or objects).
    pub fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "text" => FieldType::Text,
            "email" => FieldType::Email,
            "phone" => FieldType::Phone,
            "integer" => FieldType::Integer,
            "decimal" => FieldType::Decimal,
            "currency" => FieldType::Currency,
            "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "datetime" => FieldType::DateTime,
            _ => return None,
        })
    }

    /// The names of the simple types, for help lines.
    pub const SIMPLE_NAMES: &'static [&'static str] = &[
        "text", "email", "phone", "integer", "decimal", "currency", "boolean", "date", "datetime",
    ];
}

/// One field of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The API name, as it appears in records.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

/// A named set of fields: the shape of one CRM module's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The schema (module) name.
    pub name: String,
    /// Fields in declaration order.
    pub fields: Vec<Field>,
}

impl Schema {
    /// A schema from fields.
    pub fn new(name: impl Into<String>, fields: Vec<Field>) -> Schema {
        Schema {
            name: name.into(),
            fields,
        }
    }

    /// The field at a path, walking nested objects.
    pub fn lookup(&self, path: &[String]) -> Option<&Field> {
        let (first, rest) = path.split_first()?;
        let mut field = self.fields.iter().find(|f| &f.name == first)?;
        for seg in rest {
            match &field.ty {
                FieldType::Object(fields) => field = fields.iter().find(|f| &f.name == seg)?,
                _ => return None,
            }
        }
        Some(field)
    }

    /// The fields at the level of `prefix` (for did-you-mean), or the top level.
    pub fn fields_at(&self, prefix: &[String]) -> Option<&[Field]> {
        if prefix.is_empty() {
            return Some(&self.fields);
        }
        match &self.lookup(prefix)?.ty {
            FieldType::Object(fields) => Some(fields),
            _ => None,
        }
    }

    /// Loads a schema from CRM field metadata (see `docs/schemas.md`).
    pub fn from_field_metadata(name: &str, json: &str) -> Result<Schema, MetadataError> {
        let meta: Metadata = serde_json::from_str(json).map_err(|e| MetadataError {
            message: format!("{e}"),
            line: e.line(),
            column: e.column(),
        })?;
        let mut fields = Vec::new();
        for (i, f) in meta.fields.iter().enumerate() {
            fields.push(metadata_field(f).map_err(|message| MetadataError {
                message: format!("field #{} (`{}`): {message}", i + 1, f.api_name),
                line: 0,
                column: 0,
            })?);
        }
        Ok(Schema::new(meta.module.as_deref().unwrap_or(name), fields).renamed(name))
    }

    fn renamed(mut self, name: &str) -> Schema {
        self.name = name.to_string();
        self
    }
}

/// Why field metadata could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MetadataError {
    /// What is wrong.
    pub message: String,
    /// 1-based line in the JSON file (0 when not about a position).
    pub line: usize,
    /// 1-based column in the JSON file.
    pub column: usize,
}

#[derive(Deserialize)]
struct Metadata {
    module: Option<String>,
    fields: Vec<MetaField>,
}

#[derive(Deserialize)]
struct MetaField {
    api_name: String,
    data_type: String,
    #[serde(default)]
    pick_list_values: Vec<PickValue>,
    #[serde(default)]
    fields: Vec<MetaField>,
}

#[derive(Deserialize)]
struct PickValue {
    actual_value: Option<String>,
    display_value: Option<String>,
}

fn metadata_field(f: &MetaField) -> Result<Field, String> {
    let values = || -> Vec<String> {
        f.pick_list_values
            .iter()
            .filter_map(|v| v.actual_value.clone().or_else(|| v.display_value.clone()))
            .collect()
    };
    let ty = match f.data_type.as_str() {
        "text" | "textarea" | "website" | "autonumber" | "lookup" | "ownerlookup" => {
            FieldType::Text
        }
        "email" => FieldType::Email,
        "phone" => FieldType::Phone,
        "integer" | "bigint" => FieldType::Integer,
        "double" | "decimal" | "percent" => FieldType::Decimal,
        "currency" => FieldType::Currency,
        "boolean" => FieldType::Boolean,
        "date" => FieldType::Date,
        "datetime" => FieldType::DateTime,
        "picklist" => FieldType::Picklist(values()),
        "multiselectpicklist" => FieldType::Multiselect(values()),
        "object" | "subform" => FieldType::Object(
            f.fields
                .iter()
                .map(metadata_field)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        other => {
            return Err(format!(
                "unknown data_type `{other}`; expected one of text, textarea, email, phone, \
                 website, autonumber, lookup, integer, bigint, double, decimal, percent, currency, \
                 boolean, date, datetime, picklist, multiselectpicklist, object"
            ));
        }
    };
    Ok(Field {
        name: f.api_name.clone(),
        ty,
    })
}

/// Levenshtein distance, for did-you-mean suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within a distance proportional to the word's length.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let d = edit_distance(&lower, &c.to_lowercase());
        let limit = (word.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}
