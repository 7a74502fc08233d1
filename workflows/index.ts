/** Every workflow type this project registers; the worker bundles this file. */
export { stackSmoke } from './stack-smoke';
export { exportModel } from './export-model';
export { trainingWithExport } from './training-parent';
export { promoteModel } from './promote-model';
