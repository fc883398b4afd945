/**
 * One of the project's own models: an ONNX graph plus the card and side files written beside it.
 */
import type { ModelCard } from '../../src/model/ModelCard.js';
import type { OnnxModel } from '../../src/model/onnx/encodeOnnxModel.js';

export interface BuiltInModel {
  /** Folder name under the models directory; equals the card's `name`. */
  name: string;
  onnx: OnnxModel;
  /** The card for the encoded ONNX file whose hex SHA-256 is `sha256`; its `onnx` is `model.onnx`. */
  card(sha256: string): ModelCard;
  /** Further files (e.g. `labels.txt`), by file name, written as UTF-8. */
  sideFiles: Readonly<Record<string, string>>;
}
