

ÿþConst