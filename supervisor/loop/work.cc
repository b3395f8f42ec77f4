#include "supervisor/loop/work.h"

namespace hero::loop {
namespace {

struct Job {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> done;
};

}  // namespace

void QueueWork(uv_loop_t* loop, std::function<void()> work, std::function<void()> done) {
  auto* job = new Job{{}, std::move(work), std::move(done)};
  job->req.data = job;
  int rc = uv_queue_work(
      loop, &job->req,
      [](uv_work_t* r) {
        auto* j = static_cast<Job*>(r->data);
        j->work();
        j->work = nullptr;  // its captures are freed on the pool thread
      },
      [](uv_work_t* r, int) {
        std::unique_ptr<Job> j(static_cast<Job*>(r->data));
        if (j->done) j->done();
      });
  if (rc != 0) {
    std::unique_ptr<Job> j(job);
    j->work();
    if (j->done) j->done();
  }
}

}  // namespace hero::loop
