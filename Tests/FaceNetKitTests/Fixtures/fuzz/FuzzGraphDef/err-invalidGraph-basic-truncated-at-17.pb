
;
xPlaceholde