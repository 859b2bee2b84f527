#include "compiler/api/large_stack.h"

#include <pthread.h>

#include <exception>

namespace nnspec::api {
namespace {

constexpr size_t kStackBytes = size_t{1} << 30;

struct Job {
  const std::function<void()>* work = nullptr;
  std::exception_ptr error;
};

void* runJob(void* argument) {
  auto* job = static_cast<Job*>(argument);
  try {
    (*job->work)();
  } catch (...) {
    job->error = std::current_exception();  // rethrown on the caller's thread
  }
  return nullptr;
}

}  // namespace

void runOnLargeStack(const std::function<void()>& work) {
  Job job{&work, nullptr};
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kStackBytes);
  pthread_t thread;
  const int created = pthread_create(&thread, &attributes, runJob, &job);
  pthread_attr_destroy(&attributes);
  if (created != 0) {
    work();
    return;
  }
  pthread_join(thread, nullptr);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace nnspec::api
