SELECT :a::int, ':not_a_param', "col:x" FROM t WHERE id = :id -- :comment
 AND x = :a