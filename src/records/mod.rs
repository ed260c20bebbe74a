//! The Aidbox system resources the loader keeps: LoaderFile (and DisabledIndex).

pub mod loader_file;
