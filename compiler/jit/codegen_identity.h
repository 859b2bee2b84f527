#pragma once
// The code generator's identity: a hash of the sources whose change can change the code
// compiled for a step (codegen, fusion, the JIT, the runtime ABI), computed by the build
// (compiler/jit/codegen_identity.cmake). Part of the object cache's key, so a build whose
// code generator differs never loads another build's objects.

namespace nnspec::jit {

const char* codegenIdentity();

}  // namespace nnspec::jit
