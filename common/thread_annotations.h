// Clang's thread-safety annotations (-Wthread-safety), as in LevelDB and
// Abseil. Under gcc they expand to nothing; the clang check
// (tests/thread_safety_check.sh, ctest `thread_safety`) compiles every source
// with -Wthread-safety -Werror=thread-safety, so a member read without its
// GUARDED_BY mutex, or a REQUIRES function called without it, fails the build.
#pragma once

#if defined(__clang__)
#define VIGIL_TSA(x) __attribute__((x))
#else
#define VIGIL_TSA(x)
#endif

#define CAPABILITY(x) VIGIL_TSA(capability(x))
#define SCOPED_CAPABILITY VIGIL_TSA(scoped_lockable)
#define GUARDED_BY(x) VIGIL_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) VIGIL_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) VIGIL_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) VIGIL_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) VIGIL_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) VIGIL_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) VIGIL_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) VIGIL_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) VIGIL_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) VIGIL_TSA(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) VIGIL_TSA(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) VIGIL_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) VIGIL_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) VIGIL_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) VIGIL_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS VIGIL_TSA(no_thread_safety_analysis)
