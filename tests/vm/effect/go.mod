module podtuner.invalid/vmeffect

go 1.19
