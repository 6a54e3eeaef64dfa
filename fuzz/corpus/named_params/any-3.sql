SELECT `a:b`, '#' FROM t # :mysql comment
WHERE z = :z /* :block /* nested */ */