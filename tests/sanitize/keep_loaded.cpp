// Sanitizer runs only (scripts/run-tests.sh --sanitize preloads it): dlclose
// that leaves the library mapped. Qt and Mesa unload their plugins and
// drivers before exit; LeakSanitizer then sees frames of an "<unknown
// module>" that no suppression can name. Kept mapped, those frames carry
// their library's name, and tests/sanitize/lsan.supp matches only packaged
// libraries by name.
extern "C" int dlclose(void*) { return 0; }
