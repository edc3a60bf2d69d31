//! A small element tree for the national services' XML messages: parsed with
//! quick-xml (after decoding UTF-8 or Shift_JIS), written back as UTF-8.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// An element with text and children (attributes are not used by these messages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// A new element.
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_string(),
            ..Element::default()
        }
    }

    /// Adds a child with text (builder style).
    pub fn with(mut self, name: &str, text: impl Into<String>) -> Element {
        self.children.push(Element {
            name: name.to_string(),
            text: text.into(),
            children: Vec::new(),
        });
        self
    }

    /// Adds a child element (builder style).
    pub fn child(mut self, e: Element) -> Element {
        self.children.push(e);
        self
    }

    /// The first child named `name`.
    pub fn get(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Text at a `/`-separated path below this element, trimmed; `None` when absent or empty.
    pub fn text_at(&self, path: &str) -> Option<String> {
        let mut e = self;
        for part in path.split('/') {
            e = e.get(part)?;
        }
        Some(e.text.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// All children named `name`.
    pub fn all(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
}

/// Decodes message bytes: the encoding named in the XML declaration (UTF-8 or
/// Shift_JIS/CP932), UTF-8 when none is named.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_lowercase();
    let sjis = head.contains("encoding=\"shift_jis\"")
        || head.contains("encoding='shift_jis'")
        || head.contains("encoding=\"windows-31j\"")
        || head.contains("encoding=\"cp932\"");
    if sjis {
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
        if bad {
            return Err("invalid Shift_JIS bytes".into());
        }
        Ok(text.into_owned())
    } else {
        let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        String::from_utf8(b.to_vec()).map_err(|e| format!("invalid UTF-8: {e}"))
    }
}

/// Parses a document into its root element.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?
        {
            Event::Start(s) => {
                stack.push(Element::new(&String::from_utf8_lossy(s.name().as_ref())))
            }
            Event::Empty(s) => {
                let e = Element::new(&String::from_utf8_lossy(s.name().as_ref()));
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => root = Some(e),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.decode().map_err(|e| format!("malformed text: {e}"))?;
                    let s = quick_xml::escape::unescape(&s)
                        .map_err(|e| format!("malformed entity: {e}"))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = String::from_utf8_lossy(&r).to_string();
                    let entity = format!("&{name};");
                    let s = quick_xml::escape::unescape(&entity)
                        .map_err(|e| format!("malformed entity: {e}"))?;
                    top.text.push_str(&s);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

fn write_element(w: &mut Writer<Vec<u8>>, e: &Element) -> Result<(), String> {
    let err = |x: std::io::Error| x.to_string();
    w.write_event(Event::Start(BytesStart::new(e.name.as_str())))
        .map_err(err)?;
    if !e.text.is_empty() {
        w.write_event(Event::Text(BytesText::new(&e.text)))
            .map_err(err)?;
    }
    for c in &e.children {
        write_element(w, c)?;
    }
    w.write_event(Event::End(BytesEnd::new(e.name.as_str())))
        .map_err(err)?;
    Ok(())
}

/// Writes a UTF-8 document with an XML declaration.
pub fn write(root: &Element) -> Result<Vec<u8>, String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(|e| e.to_string())?;
    write_element(&mut w, root)?;
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_escaping_and_japanese() {
        let root = Element::new("XmlMsg").child(
            Element::new("MessageHeader")
                .with("ArbitraryFileIdentifier", "abc-1")
                .with("ErrorMessage", "引換番号が違います <a&b>"),
        );
        let bytes = write(&root).unwrap();
        let back = parse(&decode(&bytes).unwrap()).unwrap();
        assert_eq!(
            back.text_at("MessageHeader/ErrorMessage").as_deref(),
            Some("引換番号が違います <a&b>")
        );
        assert_eq!(
            back.text_at("MessageHeader/ArbitraryFileIdentifier")
                .as_deref(),
            Some("abc-1")
        );
    }

    #[test]
    fn shift_jis_documents_are_decoded() {
        let text = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><A>調剤済</A></XmlMsg>";
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let root = parse(&decode(&bytes).unwrap()).unwrap();
        assert_eq!(root.text_at("A").as_deref(), Some("調剤済"));
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(parse("<XmlMsg><A>x</B></XmlMsg>").is_err());
        assert!(parse("<XmlMsg><A>x</A>").is_err());
        assert!(parse("").is_err());
        assert!(decode(b"\xff\xfe<x/>").is_err());
    }
}
