// The FuncNodes browser UI from @linkdlab/funcnodes_react_flow, mounted the
// way the FuncNodes UI server's own page does it (FuncNodes("root",
// {workermanager_url})), with the manager URL taken from the query
// parameter worker_manager_url like that page (reference-behaviour §10.1).
import { FuncNodesRenderer } from "@linkdlab/funcnodes_react_flow";
import "@linkdlab/funcnodes_react_flow/dist/funcnodes_react_flow.css";

const url = new URLSearchParams(window.location.search).get(
  "worker_manager_url"
);
if (url) {
  FuncNodesRenderer("root", { workermanager_url: url });
} else {
  document.getElementById("root").textContent =
    "missing query parameter worker_manager_url";
}
