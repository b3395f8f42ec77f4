// FaultyVfs: a SQLite VFS that forwards to the default one and, while `fail_writes` is set,
// fails every xWrite with SQLITE_IOERR_WRITE (what EIO from a failing disk looks like to
// SQLite). Install() makes it the default VFS for the process; Uninstall() restores the old
// default. Test-only; any thread.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace hero::store::testing {

class FaultyVfs {
 public:
  static inline std::atomic<bool> fail_writes{false};
  static inline std::atomic<int> failed_writes{0};

  static void Install() {
    base_ = sqlite3_vfs_find(nullptr);
    vfs_ = *base_;
    vfs_.zName = "hero-faulty";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.xOpen = &Open;
    vfs_.pNext = nullptr;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  static void Uninstall() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(base_, 1);
  }

 private:
  struct File {
    sqlite3_file base;   // pMethods = &methods_
    sqlite3_file* real;  // the wrapped file, in the same allocation right after this struct
  };
  static sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
    auto* file = reinterpret_cast<File*>(f);
    file->real = reinterpret_cast<sqlite3_file*>(file + 1);
    std::memset(file->real, 0, static_cast<size_t>(base_->szOsFile));
    int rc = base_->xOpen(base_, name, file->real, flags, out);
    if (file->real->pMethods == nullptr) {
      file->base.pMethods = nullptr;
      return rc;
    }
    methods_ = *file->real->pMethods;  // same for every file of the default unix VFS
    methods_.xClose = [](sqlite3_file* p) { return Real(p)->pMethods->xClose(Real(p)); };
    methods_.xRead = [](sqlite3_file* p, void* b, int n, sqlite3_int64 o) {
      return Real(p)->pMethods->xRead(Real(p), b, n, o);
    };
    methods_.xWrite = [](sqlite3_file* p, const void* b, int n, sqlite3_int64 o) {
      if (fail_writes.load()) {
        failed_writes.fetch_add(1);
        return SQLITE_IOERR_WRITE;
      }
      return Real(p)->pMethods->xWrite(Real(p), b, n, o);
    };
    methods_.xTruncate = [](sqlite3_file* p, sqlite3_int64 s) {
      return Real(p)->pMethods->xTruncate(Real(p), s);
    };
    methods_.xSync = [](sqlite3_file* p, int fl) { return Real(p)->pMethods->xSync(Real(p), fl); };
    methods_.xFileSize = [](sqlite3_file* p, sqlite3_int64* s) {
      return Real(p)->pMethods->xFileSize(Real(p), s);
    };
    methods_.xLock = [](sqlite3_file* p, int l) { return Real(p)->pMethods->xLock(Real(p), l); };
    methods_.xUnlock = [](sqlite3_file* p, int l) {
      return Real(p)->pMethods->xUnlock(Real(p), l);
    };
    methods_.xCheckReservedLock = [](sqlite3_file* p, int* r) {
      return Real(p)->pMethods->xCheckReservedLock(Real(p), r);
    };
    methods_.xFileControl = [](sqlite3_file* p, int op, void* a) {
      return Real(p)->pMethods->xFileControl(Real(p), op, a);
    };
    methods_.xSectorSize = [](sqlite3_file* p) { return Real(p)->pMethods->xSectorSize(Real(p)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* p) {
      return Real(p)->pMethods->xDeviceCharacteristics(Real(p));
    };
    methods_.xShmMap = [](sqlite3_file* p, int pg, int sz, int ext, void volatile** out_p) {
      return Real(p)->pMethods->xShmMap(Real(p), pg, sz, ext, out_p);
    };
    methods_.xShmLock = [](sqlite3_file* p, int off, int n, int fl) {
      return Real(p)->pMethods->xShmLock(Real(p), off, n, fl);
    };
    methods_.xShmBarrier = [](sqlite3_file* p) { Real(p)->pMethods->xShmBarrier(Real(p)); };
    methods_.xShmUnmap = [](sqlite3_file* p, int del) {
      return Real(p)->pMethods->xShmUnmap(Real(p), del);
    };
    methods_.xFetch = [](sqlite3_file* p, sqlite3_int64 o, int n, void** pp) {
      return Real(p)->pMethods->xFetch(Real(p), o, n, pp);
    };
    methods_.xUnfetch = [](sqlite3_file* p, sqlite3_int64 o, void* pp) {
      return Real(p)->pMethods->xUnfetch(Real(p), o, pp);
    };
    file->base.pMethods = &methods_;
    return rc;
  }

  static inline sqlite3_vfs* base_ = nullptr;
  static inline sqlite3_vfs vfs_{};
  static inline sqlite3_io_methods methods_{};
};

}  // namespace hero::store::testing
