// The three.js part of the model viewer, in its own chunk (ModelViewer imports it lazily): an STL on a
// plate, lit, with orbit controls, the camera fitted to its bounding box. Renders on demand only.
import {
  AmbientLight,
  Box3,
  BufferGeometry,
  DirectionalLight,
  GridHelper,
  Mesh,
  MeshStandardMaterial,
  PerspectiveCamera,
  Scene,
  Sphere,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { STLLoader } from "three/examples/jsm/loaders/STLLoader.js";

export interface Viewer {
  /** Show this binary (or ASCII) STL instead of what was shown; returns its triangle count. */
  show(stl: ArrayBuffer, color: string): number;
  /** Back to the fitted view. */
  reset(): void;
  dispose(): void;
}

/** Whether this browser can draw WebGL at all (checked on a throwaway canvas). */
export function webglAvailable(): boolean {
  try {
    const probe = document.createElement("canvas");
    return Boolean(probe.getContext("webgl2") ?? probe.getContext("webgl"));
  } catch {
    return false;
  }
}

export function createViewer(canvas: HTMLCanvasElement, box: HTMLElement): Viewer {
  // preserveDrawingBuffer: the canvas can be read back (screenshots, tests) after a frame
  const renderer = new WebGLRenderer({ canvas, antialias: true, alpha: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
  const scene = new Scene();
  const camera = new PerspectiveCamera(35, 1, 0.1, 10_000);
  camera.up.set(0, 0, 1); // STL and the printer: Z is up
  scene.add(new AmbientLight(0xffffff, 0.9));
  const key = new DirectionalLight(0xffffff, 2.2);
  key.position.set(1, -1.5, 2);
  scene.add(key);
  const fill = new DirectionalLight(0xffffff, 0.8);
  fill.position.set(-1.5, 1, 0.5);
  scene.add(fill);

  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = false;
  controls.listenToKeyEvents(canvas); // arrow keys pan while the canvas has focus
  const loader = new STLLoader();
  let mesh: Mesh<BufferGeometry, MeshStandardMaterial> | null = null;
  let grid: GridHelper | null = null;
  let fitted = { position: new Vector3(200, -240, 160), target: new Vector3() };

  const render = () => renderer.render(scene, camera);
  controls.addEventListener("change", render);

  const resize = () => {
    const width = Math.max(1, box.clientWidth);
    const height = Math.max(1, box.clientHeight);
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    render();
  };
  const observer = new ResizeObserver(resize);
  observer.observe(box);

  const fit = (bounds: Box3) => {
    const sphere = bounds.getBoundingSphere(new Sphere());
    const radius = Math.max(sphere.radius, 1);
    const fov = (camera.fov * Math.PI) / 180;
    const distance = (radius / Math.sin(fov / 2)) * 1.15;
    const direction = new Vector3(1, -1.3, 0.9).normalize();
    fitted = { position: sphere.center.clone().addScaledVector(direction, distance), target: sphere.center.clone() };
    camera.near = distance / 100;
    camera.far = distance * 100;
    camera.updateProjectionMatrix();
    controls.minDistance = radius * 0.2;
    controls.maxDistance = distance * 6;
  };

  const reset = () => {
    camera.position.copy(fitted.position);
    controls.target.copy(fitted.target);
    controls.update();
    render();
  };

  resize();

  return {
    show(stl: ArrayBuffer, color: string): number {
      const geometry = loader.parse(stl);
      geometry.computeVertexNormals();
      geometry.computeBoundingBox();
      const bounds = geometry.boundingBox ?? new Box3(new Vector3(), new Vector3(1, 1, 1));
      if (mesh) {
        scene.remove(mesh);
        mesh.geometry.dispose();
        mesh.material.dispose();
      }
      if (grid) {
        scene.remove(grid);
        grid.dispose();
      }
      mesh = new Mesh(geometry, new MeshStandardMaterial({ color, roughness: 0.65, metalness: 0.05 }));
      scene.add(mesh);
      const size = bounds.getSize(new Vector3());
      const span = Math.ceil((Math.max(size.x, size.y) * 1.6) / 10) * 10;
      grid = new GridHelper(span, span / 10, 0x888888, 0xbbbbbb);
      grid.rotation.x = Math.PI / 2; // the grid lies in XY, under the model
      const center = bounds.getCenter(new Vector3());
      grid.position.set(center.x, center.y, bounds.min.z);
      scene.add(grid);
      fit(bounds);
      reset();
      return geometry.getAttribute("position").count / 3;
    },
    reset,
    dispose(): void {
      observer.disconnect();
      controls.dispose();
      if (mesh) {
        mesh.geometry.dispose();
        mesh.material.dispose();
      }
      grid?.dispose();
      renderer.dispose();
    },
  };
}
