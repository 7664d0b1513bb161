function(cairn_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wno-unused-parameter
    -Wstrict-prototypes -Wmissing-prototypes -fvisibility=hidden)
  if(CAIRN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
