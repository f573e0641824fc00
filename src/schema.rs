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
    pub fn lookup<S: AsRef<str>>(&self, path: &[S]) -> Option<&Field> {
        let (first, rest) = path.split_first()?;
        let mut field = self.fields.iter().find(|f| f.name == first.as_ref())?;
        for seg in rest {
            match &field.ty {
                FieldType::Object(fields) => {
                    field = fields.iter().find(|f| f.name == seg.as_ref())?;
                }
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
            message: strip_position(&e.to_string()),
            line: e.line(),
            column: e.column(),
        })?;
        let mut fields = Vec::new();
        for f in &meta.fields {
            fields.push(metadata_field(f).map_err(|(message, needle)| {
                let (line, column) = position_of(json, &needle);
                MetadataError {
                    message,
                    line,
                    column,
                }
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

/// The `data_type` values Herald reads, for help lines (docs/schemas.md has the mapping).
pub const DATA_TYPES: &[&str] = &[
    "text",
    "textarea",
    "email",
    "phone",
    "website",
    "autonumber",
    "lookup",
    "ownerlookup",
    "integer",
    "bigint",
    "double",
    "decimal",
    "percent",
    "currency",
    "boolean",
    "date",
    "datetime",
    "picklist",
    "multiselectpicklist",
    "object",
    "subform",
];

/// The message when a field's `data_type` is not one of [`DATA_TYPES`] starts with this.
pub const UNKNOWN_DATA_TYPE: &str = "unknown data_type";

/// One field of the metadata; on error, the message and the JSON text to point at.
fn metadata_field(f: &MetaField) -> Result<Field, (String, String)> {
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
            let needle = serde_json::to_string(other).unwrap_or_default();
            return Err((
                format!(
                    "{UNKNOWN_DATA_TYPE} `{other}` for the field `{}`",
                    f.api_name
                ),
                needle,
            ));
        }
    };
    Ok(Field {
        name: f.api_name.clone(),
        ty,
    })
}

/// Removes serde_json's " at line L column C" suffix: the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_string(),
        None => message.to_string(),
    }
}

/// The 1-based line and column of the first `"data_type": <needle>` in `json` (or of the first
/// occurrence of `needle`), `(0, 0)` when not found.
fn position_of(json: &str, needle: &str) -> (usize, usize) {
    if needle.is_empty() {
        return (0, 0);
    }
    let mut at = None;
    let mut from = 0;
    while let Some(i) = json.get(from..).and_then(|rest| rest.find(needle)) {
        let start = from + i;
        let before = json.get(..start).unwrap_or("").trim_end();
        if before.ends_with(':')
            && before
                .trim_end_matches(':')
                .trim_end()
                .ends_with("\"data_type\"")
        {
            at = Some(start);
            break;
        }
        if at.is_none() {
            at = Some(start);
        }
        from = start + needle.len();
    }
    let Some(at) = at else {
        return (0, 0);
    };
    let before = json.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = json
        .get(line_start..at)
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

/// Edit distance for did-you-mean suggestions: insertions, deletions, substitutions and
/// transpositions of two adjacent characters (`Emial` -> `Email` is 1) each count 1
/// (optimal string alignment distance).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two rows back (for transpositions), the previous one and the current one.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 0..a.len() {
        cur[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(a[i] != b[j]);
            let mut d = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(prev2[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within a distance proportional to the word's length; failing that, the
/// only candidate that starts with the word (at least 3 characters, ignoring case), so that
/// `no-language` suggests `no-language-matched`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    let mut prefixed: Vec<&str> = Vec::new();
    for c in candidates {
        let c_lower = c.to_lowercase();
        if c_lower == lower {
            return Some(c);
        }
        let d = edit_distance(&lower, &c_lower);
        let limit = (word.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
        if lower.chars().count() >= 3 && c_lower.starts_with(&lower) && !prefixed.contains(&c) {
            prefixed.push(c);
        }
    }
    match (best, prefixed.as_slice()) {
        (Some((_, c)), _) => Some(c),
        (None, [only]) => Some(only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpositions_count_one() {
        assert_eq!(edit_distance("Emial", "Email"), 1);
        assert_eq!(edit_distance("trail", "trial"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("Emial", ["id", "Full_Name", "Email"]),
            Some("Email")
        );
        assert_eq!(
            did_you_mean("trail", ["paid", "trial", "free"]),
            Some("trial")
        );
    }

    #[test]
    fn unique_prefix_is_suggested() {
        let reasons = ["paused", "no-language-matched", "already-invited"];
        assert_eq!(
            did_you_mean("no-language", reasons),
            Some("no-language-matched")
        );
        assert_eq!(
            did_you_mean("Mail", ["Mailing_City", "Mailing_Country"]),
            None
        );
        assert_eq!(did_you_mean("xyz", reasons), None);
    }

    #[test]
    fn unknown_data_type_points_into_the_json() {
        let json =
            "{\"fields\": [\n  {\"api_name\": \"geolocation\", \"data_type\": \"geolocation\"}\n]}";
        let e = Schema::from_field_metadata("C", json).err();
        let got = e.as_ref().map(|e| (e.message.as_str(), e.line, e.column));
        let want = "unknown data_type `geolocation` for the field `geolocation`";
        assert_eq!(got, Some((want, 2, 44)));
        let e = Schema::from_field_metadata("C", "{\"fields\": [,]}").err();
        let got = e.as_ref().map(|e| (e.message.as_str(), e.line, e.column));
        assert_eq!(got, Some(("expected value", 1, 13)));
    }
}
