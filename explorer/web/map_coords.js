// The latent map's two coordinate systems: map units (the projection's) and screen (CSS px on the canvas),
// through the view S.view = {x0, x1, y0, y1}, the canvas size S.w, S.h and the margins S.M.

// map <-> screen (CSS px)
export const sx = (S, x) => S.M.l + ((x - S.view.x0) / (S.view.x1 - S.view.x0)) * (S.w - S.M.l - S.M.r);
export const sy = (S, y) => S.h - S.M.b - ((y - S.view.y0) / (S.view.y1 - S.view.y0)) * (S.h - S.M.t - S.M.b);
export const mx = (S, px) => S.view.x0 + ((px - S.M.l) / (S.w - S.M.l - S.M.r)) * (S.view.x1 - S.view.x0);
export const my = (S, py) => S.view.y0 + ((S.h - S.M.b - py) / (S.h - S.M.t - S.M.b)) * (S.view.y1 - S.view.y0);
