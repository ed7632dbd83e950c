//! Kernel tests: root, each in throwaway network namespaces.
