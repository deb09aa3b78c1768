//! The Smart Bilateral node.
