//! Server-side digest authentication (RFC 7616, RFC 8760). (to be written)
